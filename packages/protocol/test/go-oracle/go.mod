module hpns.test/gooracle

go 1.19
