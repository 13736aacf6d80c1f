module.exports = { preset: '@hpns/testkit', displayName: 'runtime' };
