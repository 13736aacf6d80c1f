module.exports = { preset: '@hpns/testkit', displayName: 'providers' };
