module.exports = { preset: '@hpns/testkit', displayName: 'worker' };
