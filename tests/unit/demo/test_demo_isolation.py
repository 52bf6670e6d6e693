from prewire.demo.isolation import _REPLY, Endpoint, sample_pairs


def _eps() -> list[Endpoint]:
    return [
        Endpoint(f"{t}{i}", t, f"ns-{t}{i}", f"02:00:00:00:0{i}:0{ord(t[0]) % 10}", f"10.0.0.{i + 2}")
        for t in ("red", "blue")
        for i in range(5)
    ]


def test_sample_pairs_draws_both_kinds_reproducibly() -> None:
    pairs = sample_pairs(_eps(), 6)
    assert sum(1 for _, _, same in pairs if same) == 6
    assert sum(1 for _, _, same in pairs if not same) == 6
    assert all((a.tenant == b.tenant) == same for a, b, same in pairs)
    assert pairs == sample_pairs(_eps(), 6)


def test_too_few_endpoints_give_no_pairs() -> None:
    assert sample_pairs(_eps()[:1], 3) == []


def test_busybox_arping_reply_is_parsed() -> None:
    out = "ARPING 10.0.0.3 from 10.0.0.2 eth0\nUnicast reply from 10.0.0.3 [02:AA:00:00:00:03] 0.070ms\n"
    assert _REPLY.findall(out) == ["02:AA:00:00:00:03"]
