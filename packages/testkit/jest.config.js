module.exports = { preset: '@hpns/testkit', displayName: 'testkit' };
