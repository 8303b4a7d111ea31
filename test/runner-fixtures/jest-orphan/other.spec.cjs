// A second file, so that jest uses worker processes rather than running in band.
test('nothing', () => {});
