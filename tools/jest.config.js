module.exports = { preset: '@hpns/testkit', displayName: 'tools' };
