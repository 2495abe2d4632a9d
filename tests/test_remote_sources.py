"""degrade.sources.remote against a real S3 server: listing, header probes by ranged reads and
decoding give what the local sources give for the same files."""
from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from degrade._errors import InputError
from degrade.sources import remote
from degrade.sources.folders import probe_shape, read_file
from degrade.sources.samples import raw_sample_paths, sample_paths


def _jpeg_with_big_exif(image: np.ndarray, extra: int) -> bytes:
    """A JPEG whose start-of-frame sits after ``extra`` bytes of APP segments (as big EXIF
    or ICC blocks put it beyond a first ranged read)."""
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    data = buf.tobytes()
    segments = b""
    while extra > 0:
        size = min(extra, 65533)
        segments += b"\xff\xe2" + struct.pack(">H", size + 2) + b"\0" * size
        extra -= size
    return data[:2] + segments + data[2:]


@pytest.fixture
def photos(s3_server, s3_bucket, tmp_path):
    """Image objects under s3://BUCKET/photos/ and the same files in a local folder."""
    client = s3_server.client()
    local = tmp_path / "photos"
    (local / "sub").mkdir(parents=True)
    files = {}
    for k, path in enumerate(sample_paths()[:3]):
        files[f"{'sub/' if k == 2 else ''}{path.name}"] = path.read_bytes()
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    files["big_exif.jpg"] = _jpeg_with_big_exif(image, remote.HEAD_BYTES + 5000)
    files["UPPER.PNG"] = cv2.imencode(".png", image[:33])[1].tobytes()
    files["gray.tif"] = cv2.imencode(".tif", image[:20, :30, 0])[1].tobytes()
    files["bad.png"] = b"\x89PNG\r\n\x1a\n not really"
    hidden = {".hidden.png": files["UPPER.PNG"], ".cache/x.png": files["UPPER.PNG"],
              "notes.md": b"# not an image"}
    for key, data in {**files, **hidden}.items():
        client.put_object(Bucket=s3_bucket, Key=f"photos/{key}", Body=data)
        (local / key).parent.mkdir(parents=True, exist_ok=True)
        (local / key).write_bytes(data)
    return s3_server.storage_options(), f"s3://{s3_bucket}/photos", local, files


def test_listing(photos):
    options, root, _, files = photos
    got_root, urls, sizes = remote.list_remote(root + "/", "image", options)
    assert got_root == root
    keys = sorted(files)                                   # code-point order, hidden skipped
    assert urls == [f"{root}/{key}" for key in keys]
    assert sizes == [len(files[key]) for key in keys]
    assert [remote.relative_key(u, root) for u in urls] == keys


def test_probes_match_local_files(photos):
    options, root, local, files = photos
    _, urls, _ = remote.list_remote(root, "image", options)
    probed = remote.probe_remote_shapes(urls, "image", options)
    for url, got in zip(urls, probed):
        key = remote.relative_key(url, root)
        if key == "bad.png":
            assert isinstance(got, InputError) and str(got).startswith(f"{url}: ")
            assert "degrade-" not in str(got)             # names the URL, not a temp file
            continue
        assert got == probe_shape(local / key, "image"), key
    assert probed[urls.index(f"{root}/big_exif.jpg")] == (40, 56)
    assert remote.probe_remote_shape(f"{root}/UPPER.PNG", "image", options) == (33, 56)


def test_reads_match_local_files(photos):
    options, root, local, files = photos
    for key in files:
        if key == "bad.png":
            with pytest.raises(InputError, match=r"bad\.png: not a readable image"):
                remote.read_remote(f"{root}/{key}", "image", options)
            continue
        image, meta = remote.read_remote(f"{root}/{key}", "image", options)
        expected, expected_meta = read_file(local / key, "image")
        assert image.dtype == np.float32 and meta == expected_meta == {}
        np.testing.assert_array_equal(image, expected)


def test_missing_objects_and_buckets(photos, s3_server):
    options, root, _, _ = photos
    (got,) = remote.probe_remote_shapes([f"{root}/nothing.png"], "image", options)
    assert isinstance(got, InputError) and str(got) == f"{root}/nothing.png: no such object"
    with pytest.raises(InputError, match="nothing.png: no such object"):
        remote.read_remote(f"{root}/nothing.png", "image", options)
    with pytest.raises(InputError) as info:
        remote.list_remote("s3://no-such-bucket-y/photos/", "image", options)
    assert "\n" not in str(info.value) and "no-such-bucket-y" in str(info.value)
    assert remote.list_remote(f"{root}/empty-prefix/", "image", options)[1] == []
    wrong = dict(options, secret="wrong")
    with pytest.raises(InputError, match="access denied"):
        remote.list_remote(root, "image", wrong)


def test_url_list(photos, s3_server):
    options, root, _, files = photos
    other = s3_server.create_bucket()
    try:
        s3_server.client().put_object(Bucket=other, Key="far/away.png", Body=files["UPPER.PNG"])
        bucket = root.split("/")[2]
        text = (f"# a list\n\nsub/{sample_paths()[2].name}\n  UPPER.PNG  \n"
                f"s3://{other}/far/away.png\nmissing.png\n")
        s3_server.client().put_object(Bucket=bucket, Key="photos/list.txt", Body=text.encode())
        base, urls, sizes = remote.list_remote(f"{root}/list.txt", "image", options)
        assert base == root
        assert urls == [f"{root}/sub/{sample_paths()[2].name}", f"{root}/UPPER.PNG",
                        f"s3://{other}/far/away.png", f"{root}/missing.png"]
        assert sizes[1:] == [len(files["UPPER.PNG"])] * 2 + [-1]
        shapes = remote.probe_remote_shapes(urls, "image", options)
        assert shapes[1] == shapes[2] == (33, 56) and isinstance(shapes[3], InputError)
    finally:
        s3_server.delete_bucket(other)


def test_normalise_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert remote.normalise_source("photos/") == str(tmp_path / "photos")
    assert remote.normalise_source("list.txt") == str(tmp_path / "list.txt")
    assert remote.normalise_source(f"file://{tmp_path}/x") == str(tmp_path / "x")
    assert remote.normalise_source("s3://b/photos/") == "s3://b/photos/"


def test_read_list_text_local_and_urls():
    assert remote.read_list_text("a.png\n# c\n\ns3://b/x.png\n/abs.png\n", "/data/") == [
        "/data/a.png", "s3://b/x.png", "/data/abs.png"]
    assert remote.is_url("s3://b/x") and not remote.is_url("file:///x") \
        and not remote.is_url("/x")


def test_raw_files(s3_server, s3_bucket):
    paths = raw_sample_paths()
    if not paths:
        pytest.skip("no built-in RAW samples")
    client = s3_server.client()
    for path in paths:
        client.put_object(Bucket=s3_bucket, Key=f"raw/{path.name}", Body=path.read_bytes())
    client.put_object(Bucket=s3_bucket, Key="raw/broken.dng", Body=b"II*\0 not a dng")
    options = s3_server.storage_options()
    root, urls, _ = remote.list_remote(f"s3://{s3_bucket}/raw", "raw", options)
    assert [u.rsplit("/", 1)[1] for u in urls] == sorted([p.name for p in paths] + ["broken.dng"])
    shapes = remote.probe_remote_shapes(urls, "raw", options)
    for url, shape in zip(urls, shapes):
        name = url.rsplit("/", 1)[1]
        if name == "broken.dng":
            assert isinstance(shape, InputError) and "rawpy cannot open it" in str(shape)
            continue
        local = next(p for p in paths if p.name == name)
        assert shape == probe_shape(local, "raw")
        mosaic, meta = remote.read_remote(url, "raw", options)
        expected, expected_meta = read_file(local, "raw")
        np.testing.assert_array_equal(mosaic, expected)
        assert meta["source_path"] == url
        assert {k: v for k, v in meta.items() if k != "source_path"} == \
            {k: v for k, v in expected_meta.items() if k != "source_path"}


def test_probes_in_batches(photos, monkeypatch):
    """Header reads go out PROBE_BATCH at a time; the results keep their order."""
    options, root, _, _ = photos
    _, urls, _ = remote.list_remote(root, "image", options)
    whole = remote.probe_remote_shapes(urls, "image", options)
    monkeypatch.setattr(remote, "PROBE_BATCH", 2)
    batched = remote.probe_remote_shapes(urls, "image", options)
    assert [str(r) if isinstance(r, InputError) else r for r in batched] == \
        [str(r) if isinstance(r, InputError) else r for r in whole]
