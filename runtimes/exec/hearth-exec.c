/*
 * hearth-exec: the supervisor inside an image function's container.
 *
 * hearth mounts this static binary into containers of images it did not build
 * and runs it as their entrypoint (like OpenFaaS's watchdog or SCAR's
 * supervisor). It listens on a Unix socket; each connection is one call: it
 * forks, runs the call's argv with the call's stdin and extra environment,
 * collects stdout and stderr, and answers with the exit status. A call costs a
 * fork and an exec instead of a `docker exec` (tens of ms of engine work).
 *
 * Protocol, integers as little-endian uint32:
 *   request:  argc, argc x (len, bytes); envc, envc x (len, "NAME=value");
 *             stdin (len, bytes); max output bytes.     argc 0 is a ping.
 *   response: status (exit code, or 128 + signal), flags (1: stdout was cut),
 *             stdout (len, bytes), stderr (len, bytes: the last ones kept).
 *
 * Build: cc -static -O2 -o hearth-exec hearth-exec.c (no dependency but libc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 4096
#define MAX_REQUEST_BYTES (64u * 1024 * 1024)

extern char **environ;

struct buf {
  char *data;
  size_t len, cap, max;
  int keep_tail, cut;
};

static void die(const char *what) {
  fprintf(stderr, "hearth-exec: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int read_full(int fd, void *out, size_t n) {
  char *p = out;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *in, size_t n) {
  const char *p = in;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_u32(int fd, uint32_t *v) {
  unsigned char b[4];
  if (read_full(fd, b, 4) < 0) return -1;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 0;
}

static int write_u32(int fd, uint32_t v) {
  unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
  return write_full(fd, b, 4);
}

/* Reads `count` length-prefixed strings, NUL-terminated, into a NULL-terminated array. */
static char **read_strings(int fd, uint32_t count, size_t *budget) {
  if (count > MAX_ITEMS) return NULL;
  char **items = calloc(count + 1, sizeof(char *));
  if (items == NULL) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len;
    if (read_u32(fd, &len) < 0 || len > *budget) return NULL;
    *budget -= len;
    items[i] = malloc(len + 1);
    if (items[i] == NULL || read_full(fd, items[i], len) < 0) return NULL;
    items[i][len] = '\0';
  }
  return items;
}

static void buf_add(struct buf *b, const char *data, size_t n) {
  if (b->len + n > b->max) {
    b->cut = 1;
    if (!b->keep_tail) {
      n = b->max - b->len;
    } else if (n >= b->max) {
      data += n - b->max;
      n = b->max;
      b->len = 0;
    } else {
      size_t drop = b->len + n - b->max;
      memmove(b->data, b->data + drop, b->len - drop);
      b->len -= drop;
    }
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap == 0 ? 65536 : b->cap;
    while (cap < b->len + n) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL) die("out of memory");
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
}

/* Runs one call on connection `conn`; never returns. */
static void serve(int conn) {
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  size_t budget = MAX_REQUEST_BYTES;
  uint32_t argc, envc, in_len, max_out;
  if (read_u32(conn, &argc) < 0) _exit(1);
  char **argv = read_strings(conn, argc, &budget);
  if (argv == NULL || read_u32(conn, &envc) < 0) _exit(1);
  char **extra = read_strings(conn, envc, &budget);
  if (extra == NULL || read_u32(conn, &in_len) < 0 || in_len > budget) _exit(1);
  char *input = malloc(in_len + 1);
  if (input == NULL || read_full(conn, input, in_len) < 0 || read_u32(conn, &max_out) < 0) _exit(1);

  struct buf out = {0}, err = {0};
  out.max = max_out;
  err.max = max_out;
  err.keep_tail = 1;
  int status = 0;

  if (argc > 0) {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      /* The call's variables first: getenv finds the first match. */
      size_t n_env = 0;
      while (environ[n_env] != NULL) n_env++;
      char **env = calloc(envc + n_env + 1, sizeof(char *));
      if (env == NULL) _exit(127);
      memcpy(env, extra, envc * sizeof(char *));
      memcpy(env + envc, environ, n_env * sizeof(char *));
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      signal(SIGPIPE, SIG_DFL);
      setsid();
      execvpe(argv[0], argv, env);
      fprintf(stderr, "hearth-exec: cannot run %s: %s\n", argv[0], strerror(errno));
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    size_t written = 0;
    int in_fd = in_pipe[1];
    if (in_len == 0) {
      close(in_fd);
      in_fd = -1;
    }
    int open_outputs = 2, exited = 0, wstatus = 0, grace_ticks = 0;
    char chunk[65536];
    while (open_outputs > 0 || in_fd >= 0) {
      /* Something the command left running in the background may hold its output open:
         once the command has exited, its output gets a short grace, then the group is killed. */
      if (!exited && waitpid(pid, &wstatus, WNOHANG) == pid) exited = 1;
      if (exited && ++grace_ticks > 20) {
        kill(-pid, SIGKILL);
        break;
      }
      struct pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
      if (poll(fds, 3, exited ? 10 : 50) < 0) {
        if (errno == EINTR) continue;
        die("poll");
      }
      for (int i = 0; i < 2; i++) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t r = read(fds[i].fd, chunk, sizeof chunk);
        if (r > 0) {
          buf_add(i == 0 ? &out : &err, chunk, (size_t)r);
        } else if (r == 0 || errno != EINTR) {
          close(fds[i].fd);
          if (i == 0) out_pipe[0] = -1; else err_pipe[0] = -1;
          open_outputs--;
        }
      }
      if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t w = write(in_fd, input + written, in_len - written);
        if (w > 0) written += (size_t)w;
        /* A command that stops reading (or never reads) ends its stdin; its output still counts. */
        if (written == in_len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
          close(in_fd);
          in_fd = -1;
        }
      }
    }
    while (!exited && waitpid(pid, &wstatus, 0) < 0) {
      if (errno != EINTR) die("waitpid");
    }
    /* Nothing the call started outlives it in the warm container. */
    kill(-pid, SIGKILL);
    status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  }

  if (write_u32(conn, (uint32_t)status) < 0 || write_u32(conn, out.cut ? 1 : 0) < 0 ||
      write_u32(conn, (uint32_t)out.len) < 0 || write_full(conn, out.data, out.len) < 0 ||
      write_u32(conn, (uint32_t)err.len) < 0 || write_full(conn, err.data, err.len) < 0) {
    _exit(1);
  }
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: hearth-exec SOCKET\n");
    return 2;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "hearth-exec: socket path too long\n");
    return 2;
  }
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0) die("socket");
  /* The gateway connects as another user; the calls' files keep the usual mask. */
  mode_t mask = umask(0);
  if (bind(server, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  umask(mask);
  if (listen(server, 128) < 0) die("listen");
  /* Handlers are not waited for: the kernel reaps them. */
  signal(SIGCHLD, SIG_IGN);
  for (;;) {
    int conn = accept4(server, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(server);
      serve(conn);
    }
    close(conn);
  }
}
