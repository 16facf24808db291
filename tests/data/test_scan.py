import tensorflow as tf

from kclass.data import scan


def test_finds_corrupt_truncated_and_oversize_images(tmp_path):
    png = tf.io.encode_png(tf.zeros([8, 8, 3], tf.uint8)).numpy()
    jpeg = tf.io.encode_jpeg(tf.zeros([64, 64, 3], tf.uint8)).numpy()
    files = {"ok.png": png, "ok.jpg": jpeg, "truncated.jpg": jpeg[: len(jpeg) // 3],
             "garbage.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "big.png": tf.io.encode_png(
                 tf.zeros([100, 100, 3], tf.uint8)).numpy(), "gray16.png": tf.io.encode_png(
                 tf.zeros([4, 4, 1], tf.uint16)).numpy()}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    bad = scan.undecodable(paths)
    assert sorted(paths[i].rsplit("/", 1)[1] for i in bad) == ["garbage.png", "truncated.jpg"]
    bad = scan.undecodable(paths, max_pixels=5000)
    assert "big.png" in [paths[i].rsplit("/", 1)[1] for i in bad]
