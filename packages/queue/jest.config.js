module.exports = { preset: '@hpns/testkit', displayName: 'queue' };
