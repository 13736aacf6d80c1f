module.exports = { preset: '@hpns/testkit', displayName: 'ingress' };
