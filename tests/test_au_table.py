import pytest

from lac_gan.data.au_table import ACTION_UNITS, AU_NAMES, AU_NUMBERS, NUM_AUS, au_index


def test_the_twelve_bp4d_aus_of_the_paper():
    assert AU_NUMBERS == (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    assert NUM_AUS == 12 and AU_NAMES[6] == "AU12"
    assert all(len(au.centres) == 2 for au in ACTION_UNITS)


@pytest.mark.parametrize("name", ["AU12", "au12", "12", 12, " AU12 "])
def test_au_index_accepts_the_usual_spellings(name):
    assert au_index(name) == 6


@pytest.mark.parametrize("name", ["AU3", "AU45", "smile", ""])
def test_au_index_rejects_unknown_aus_listing_valid_ones(name):
    with pytest.raises(ValueError, match="valid ones are: AU1, AU2, AU4"):
        au_index(name)
