"""The determinism check notices a single changed byte."""

from lessonbench.jobs.verify import compare_files


def test_compare_files_finds_a_changed_byte(tmp_path):
    a, b, c = (tmp_path / n for n in "abc")
    a.write_bytes(b"\x00\x01\x02")
    b.write_bytes(b"\x00\x01\x02")
    c.write_bytes(b"\x00\x01\x03")
    assert compare_files({"x": a, "y": a}, {"x": b, "y": c}) == {"x": True, "y": False}
