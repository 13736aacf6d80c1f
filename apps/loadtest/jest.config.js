module.exports = { preset: '@hpns/testkit', displayName: 'loadtest' };
