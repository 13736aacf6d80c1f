module.exports = { preset: '@hpns/testkit', displayName: 'protocol' };
