from bot.content.readability import lix, sentences


def test_lix_follows_the_spec_formula() -> None:
    # 14 words, 1 sentence; long (>6 letters): særlige, tryghed, beskyttelse, inddragelse
    text = "Børn og unge med særlige behov har ret til omsorg, tryghed, beskyttelse og inddragelse."
    result = lix(text)
    assert result.words == 14
    assert result.sentences == 1
    long_words = [w for w in text.strip(".").replace(",", "").split() if len(w) > 6]
    assert result.long_words == len(long_words) == 4
    assert result.score == round(14 / 1 + 100 * 4 / 14, 1)


def test_short_sentences_and_line_breaks_count_as_sentences() -> None:
    text = "Du har ret til at klage.\nDet er gratis!\nRing til os"
    assert sentences(text) == ["Du har ret til at klage", "Det er gratis", "Ring til os"]
    assert lix(text).score < 10


def test_template_tags_and_links_do_not_inflate_the_score() -> None:
    with_tags = lix(
        "Ring til {{ helplines.boernetelefonen.phone }}. Se https://ast.dk/klage-over-afgoerelser."
    )
    assert with_tags.long_words == 0
    assert with_tags.words == 4  # Ring, til, X, Se


def test_empty_text_is_zero() -> None:
    assert lix("").score == 0.0
