/** The fixed addressing slipway gives every container, whichever helper is used. */
export const GUEST_NET = Object.freeze({
    cidr: '10.0.2.0/24', prefix: 24, guestIp: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3', defaultMtu: 65520,
});
