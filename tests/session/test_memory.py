"""The memory budget counts what the process holds, not what glibc keeps after it was freed."""

import numpy as np
import pytest

from app.protocol import ProtocolError
from app.session import memory
from app.web.main import keep_freed_memory

MB = 2**20


def test_memory_freed_but_kept_by_the_allocator_is_given_back_before_work_is_refused() -> None:
    if memory.rss() is None or memory._libc() is None:
        pytest.skip("needs Linux with glibc")
    keep_freed_memory()  # as the server runs: glibc keeps up to 256 MB it could give back
    blocks = [np.ones(MB // 8) for _ in range(200)]  # 200 MB in 1 MB blocks: from the heap, not mmap
    del blocks
    kept = memory.rss()
    assert kept is not None
    budget = kept - 100 * MB  # what is resident now is over it only by what was freed
    memory.check(budget, "load")  # no server_full: the freed blocks went back first
    after = memory.rss()
    assert after is not None and after < budget
    with pytest.raises(ProtocolError) as e:  # really over it: refused
        memory.check(after // 2, "load")
    assert e.value.code == "server_full"
