module.exports = { preset: '@hpns/testkit', displayName: 'simulators' };
