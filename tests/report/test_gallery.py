import numpy as np

from kclass.report import gallery


def test_gallery_shows_each_image_with_its_caption(tmp_path):
    from PIL import Image
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :4] = 255
    Image.fromarray(image).save(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    loaded = [gallery.load_image(str(tmp_path / "a.png")), gallery.load_image(str(tmp_path / "bad.png"))]
    np.testing.assert_array_equal(loaded[0], image)
    assert loaded[1] is None
    fig = gallery.gallery_png(str(tmp_path / "g.png"), loaded, ["true: a\npred: b (0.90)", "true: c\npred: d"],
                              columns=6)
    assert (tmp_path / "g.png").is_file()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["true: a\npred: b (0.90)", "true: c\npred: d"]
    assert len(fig.axes[0].images) == 1 and not fig.axes[1].images
