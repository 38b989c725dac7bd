import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRedisUnavailable, isReshardingAbort } from '../../src/redis/errors.js';

const abort = (...previous: string[]) => Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
  previousErrors: previous.map((m) => new Error(m)),
});

describe('Redis errors', () => {
  it('tells a transaction refused while a Cluster slot moves from one refused for a bug', () => {
    assert.equal(isReshardingAbort(abort('ASK 3999 127.0.0.1:7001')), true);
    assert.equal(isReshardingAbort(abort('MOVED 3999 127.0.0.1:7001', 'MOVED 3999 127.0.0.1:7001')), true);
    assert.equal(isReshardingAbort(abort('TRYAGAIN Multiple keys request during rehashing of slot')), true);
    assert.equal(isReshardingAbort(abort('ERR Error running script: wrong number of arguments')), false, 'a script bug is not retried');
    assert.equal(isReshardingAbort(abort()), false, 'nothing says why');
    assert.equal(isReshardingAbort(new Error('MOVED 3999 127.0.0.1:7001')), false, 'not a transaction');
    assert.equal(isRedisUnavailable(abort('ASK 3999 127.0.0.1:7001')), true, 'shown as a retryable 503 if it outlasts the retries');
    assert.equal(isRedisUnavailable(abort('ERR unknown command')), false);
  });
});
