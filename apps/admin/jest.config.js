module.exports = { preset: '@hpns/testkit', displayName: 'admin' };
