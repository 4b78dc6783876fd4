"""The run's files that any member can write to: JSON read with a bound on its nesting (py-evm raises the
recursion limit to 100,000, past what the C stack holds), and files replaced without writing through a link."""

import eth  # noqa: F401  imported first, as every command that runs the engine does: the recursion limit is raised
import pytest

from ledger.tooling.files import loads, write_atomically


@pytest.mark.parametrize("text", ["[" * 200_000 + "]" * 200_000, '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_json_nested_past_the_bound_is_a_value_error_not_a_crash(text):
    with pytest.raises(ValueError, match="nested deeper than 64 levels"):
        loads(text)


def test_json_within_the_bound_and_brackets_in_strings_are_read():
    assert loads(b'{"a": "[[[[[[[[", "b": [[1]]}') == {"a": "[[[[[[[[", "b": [[1]]}
    assert loads("[" * 64 + "]" * 64)[0] is not None  # 64 levels: read
    with pytest.raises(ValueError):
        loads("not json")


def test_a_link_planted_where_the_file_goes_or_beside_it_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file\n")
    target = tmp_path / "state.snapshot"
    target.symlink_to(victim)
    for name in ("state.snapshot.partial", ".state.snapshot.partial", f".state.snapshot.{1}.partial"):
        (tmp_path / name).symlink_to(victim)
    write_atomically(target, b"new state")
    assert victim.read_text() == "the user's own file\n"
    assert not target.is_symlink() and target.read_bytes() == b"new state"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink()) == ["state.snapshot", "victim.txt"]
