// The example: a branch, an otherwise, and a fan-out.
export const ORDERS = {
  name: 'orders',
  start: 'validate',
  nodes: {
    validate: { function: 'orders.validate' },
    charge: { function: 'orders.charge' },
    reject: { function: 'orders.reject' },
    notify: { function: 'mail.send' },
    audit: { function: 'orders.audit' },
  },
  edges: [
    { from: 'validate', to: 'charge', when: { path: '$.valid', op: '==', value: true } },
    { from: 'validate', to: 'reject', when: 'otherwise' },
    { from: 'charge', to: 'notify' },
    { from: 'charge', to: 'audit' },
  ],
};
