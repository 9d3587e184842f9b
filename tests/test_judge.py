"""reading.judge: pass only when sure of the expected code, fail only when sure of another."""

from __future__ import annotations

from dataclasses import replace

from proofwatch.rules.judge import THRESHOLDS, Thresholds, judge
from proofwatch.vocabulary import Candidate, Char, mean_char

CODE = r"\d{5}"


def _read(
    text: str, p: float = 0.99, agree: int = 2, doubt: dict[int, str] | None = None
) -> Candidate:
    """A candidate whose every char has probability p; `doubt` gives some place a second
    digit with the rest of the probability."""
    chars = []
    for i, ch in enumerate(text):
        dist = [0.0] * 10
        dist[int(ch)] = p
        other = (doubt or {}).get(i)
        if other is not None:
            dist[int(other)] = 1 - p
        chars.append(Char(ch, p, tuple(dist)))
    return Candidate(text, tuple(chars), "ppocr+cnn" if agree == 2 else "ppocr", agree)


def test_the_expected_code_read_surely_passes() -> None:
    assert judge([_read("48213")], "48213", CODE).status == "pass"


def test_the_expected_code_read_unsurely_is_review() -> None:
    verdict = judge([_read("48213", p=0.5)], "48213", CODE)
    assert verdict.status == "review" and "unsure" in verdict.detail


def test_one_reader_alone_needs_more_confidence_to_pass() -> None:
    t = Thresholds(pass_min=0.8, pass_min_single=0.95)
    assert judge([_read("48213", p=0.9, agree=1)], "48213", CODE, t).status == "review"
    assert judge([_read("48213", p=0.97, agree=1)], "48213", CODE, t).status == "pass"


def test_one_reader_of_three_on_a_middling_confidence_does_not_pass() -> None:
    """48717 written; PP-OCR read 4871, the line recogniser alone 40717 at 0.84: the
    request's 40717 must not pass on that."""
    lone = Candidate("40717", _read("40717", 0.84).chars, "line", 1)
    verdict = judge([_by("4871", "ppocr"), lone], "40717", CODE, THRESHOLDS["handwriting"])
    assert (verdict.status, verdict.reason_code) == ("review", "code_uncertain")


def test_nothing_that_fits_is_review() -> None:
    assert judge([], "48213", CODE).status == "review"
    assert judge([_read("4821")], "48213", CODE).status == "review"


def test_another_code_read_surely_by_both_readers_fails() -> None:
    verdict = judge([_read("48218")], "48213", CODE)
    assert verdict.status == "fail" and verdict.observed == "48218"


def test_a_hesitation_on_the_differing_digit_is_review() -> None:
    # The recogniser gave the expected 3 some probability where it read 8: never fail.
    verdict = judge([_read("48218", p=0.8, doubt={4: "3"})], "48213", CODE)
    assert verdict.status == "review"


def test_fail_needs_both_readers_by_default() -> None:
    """One reader alone, however sure, is not enough to tell a wearer the code is wrong."""
    assert judge([_read("48218", agree=1)], "48213", CODE).status == "review"
    assert judge([_read("48218", agree=2)], "48213", CODE).status == "fail"
    one_will_do = Thresholds(fail_agree=1)
    assert judge([_read("48218", agree=1)], "48213", CODE, one_will_do).status == "fail"


def test_the_expected_code_anywhere_wins_over_another_number() -> None:
    # A printed number elsewhere on the paper does not stop the handwritten code passing.
    cands = [_read("70112"), _read("48213")]
    assert judge(cands, "48213", CODE).status == "pass"


def test_an_unsure_expected_reading_keeps_another_sure_one_from_failing() -> None:
    cands = [_read("48218"), _read("48213", p=0.4, agree=1)]
    assert judge(cands, "48213", CODE).status == "review"


def test_an_unsure_different_digit_is_review() -> None:
    assert judge([_read("48218", p=0.7)], "48213", CODE).status == "review"


def test_unknown_per_digit_probabilities_never_fail() -> None:
    chars = tuple(Char(c, 0.99) for c in "48218")
    assert judge([Candidate("48218", chars, agree=2)], "48213", CODE).status == "review"


def test_a_reading_far_from_the_expected_code_is_review_not_fail() -> None:
    # 66631 read upside down is 12999: all five places differ; likelier a misread.
    assert judge([_read("12999")], "66631", CODE).status == "review"
    assert judge([_read("48123")], "48213", CODE).status == "fail"  # two swapped


def test_two_places_off_fail_only_as_two_neighbours_swapped() -> None:
    # A wearer's slip changes one digit or swaps two neighbours; a reading two places
    # apart (06078 read upside down as 86070) holds a misread at least as likely.
    apart = judge([_read("86070")], "06078", CODE)
    assert apart.status == "review" and "differs from 06078 in two digits" in apart.detail
    assert judge([_read("41218")], "48213", CODE).status == "review"
    assert judge([_read("47113")], "48213", CODE).status == "review"  # neighbours, no swap
    assert judge([_read("42813")], "48213", CODE).status == "fail"
    assert judge([_read("48231")], "48213", CODE).status == "fail"


def test_another_sure_reading_of_the_same_code_blocks_a_pass() -> None:
    """PP-OCR sure of 48218, the CNN alone sure of 48213: the readers disagree, so a person
    looks; neither reading may decide."""
    one = _read("48213", agree=1, p=0.97)
    other = _read("48218", agree=1, p=0.97)
    judged = judge([one, other], "48213", CODE)
    assert (judged.status, judged.reason_code) == ("review", "code_uncertain")


def test_a_printed_number_beside_the_right_code_does_not_block_it() -> None:
    """A number far from the code (a phone number on the paper) is not a rival reading."""
    judged = judge([_read("48213"), _read("01894")], "48213", CODE)
    assert (judged.status, judged.reason_code) == ("pass", "code_matches")


def test_a_sure_reading_far_from_the_code_is_review_never_fail() -> None:
    """Only the printed number was read (the handwriting was not): not evidence enough."""
    judged = judge([_read("01894")], "48213", CODE)
    assert (judged.status, judged.reason_code) == ("review", "code_uncertain")


def test_the_reason_codes_say_what_was_seen() -> None:
    assert judge([], "48213", CODE).reason_code == "no_code_visible"
    assert judge([_read("482")], "48213", CODE).reason_code == "unreadable"
    assert judge([_read("48218")], "48213", CODE).reason_code == "code_mismatch"


def test_each_number_of_readers_has_its_own_bar_to_fail() -> None:
    t = Thresholds(fail_agree=1, fail_min=0.95, fail_min_agreed=0.8)
    assert judge([_read("48218", p=0.85, agree=2)], "48213", CODE, t).status == "fail"
    assert judge([_read("48218", p=0.85, agree=1)], "48213", CODE, t).status == "review"
    assert judge([_read("48218", p=0.75, agree=2)], "48213", CODE, t).status == "review"


def test_printed_numbers_may_fail_on_one_reader() -> None:
    """The digit CNN knows handwriting only: a seal's printed number has one reader."""
    one = _read("4471903", agree=1)
    assert judge([one], "4471902", r"\d{7}", THRESHOLDS["handwriting"]).status == "review"
    assert judge([one], "4471902", r"\d{7}", THRESHOLDS["print"]).status == "fail"


def _by(text: str, source: str, p: float = 0.99) -> Candidate:
    """`text` read by the readers named in `source` (joined by +), every char at p."""
    return Candidate(text, _read(text, p).chars, source, len(source.split("+")))


def _on(cand: Candidate, line: int, turn: int = 0) -> Candidate:
    return replace(cand, line=line, turn=turn)


def test_a_rival_of_fewer_readers_does_not_block_a_pass() -> None:
    cands = [_by("48213", "ppocr+cnn"), _by("48218", "line")]
    assert judge(cands, "48213", CODE).status == "pass"
    # As many readers for the rival as for the expected code: a person looks.
    even = [_by("48213", "ppocr+cnn"), _by("48218", "line+x")]
    assert judge(even, "48213", CODE).status == "review"
    assert judge(cands, "48213", CODE, Thresholds(outvote=0)).status == "review"


def test_the_two_line_readers_alone_cannot_fail_a_code() -> None:
    assert judge([_by("48218", "ppocr+line")], "48213", CODE).status == "review"
    for readers in ("ppocr+cnn", "cnn+line", "ppocr+cnn+line"):
        assert judge([_by("48218", readers)], "48213", CODE).status == "fail", readers


def test_the_two_line_readers_fail_a_code_when_the_glyph_cnn_seconds_them_there() -> None:
    """PP-OCR and the line recogniser read 48218; the glyph CNN, on the same line, read
    49218: another digit wrong, but an 8 where they read one, the 3 given nothing."""
    both = _on(_by("48218", "ppocr+line"), 0)
    cnn = _on(_by("49218", "cnn"), 0)
    assert judge([both, cnn], "48213", CODE).status == "fail"
    # Not from another line, nor turned another way, nor leaning the expected way there.
    assert judge([both, _on(_by("49218", "cnn"), 1)], "48213", CODE).status == "review"
    assert judge([both, _on(_by("49218", "cnn"), 0, 180)], "48213", CODE).status == "review"
    leaning = replace(_read("49213", 0.6, doubt={4: "8"}), source="cnn", agree=1)
    assert judge([both, _on(leaning, 0)], "48213", CODE).status == "review"
    # Nor when its own reading is of another length: which place is which is not known.
    assert judge([both, _on(_by("4918", "cnn"), 0)], "48213", CODE).status == "review"
    # One of the two seconding the other is no third reader.
    assert judge([both, _on(_by("49218", "line"), 0)], "48213", CODE).status == "review"


def test_an_unsure_reading_stands_in_the_way_of_a_fail_only_where_it_leaves_room() -> None:
    """Two readers read 48218 surely; the third, unsure, read 48210. Where the two read 8 it
    gives the expected 3 nothing: it doubts another digit, not theirs. Had it given the 3
    some probability there, a person would look."""
    sure = _by("48218", "ppocr+cnn")
    unsure_elsewhere = Candidate("48210", _read("48210", 0.6, doubt={3: "1"}).chars, "line", 1)
    assert judge([sure, unsure_elsewhere], "48213", CODE).status == "fail"
    unsure_there = Candidate("48210", _read("48210", 0.6, doubt={4: "3"}).chars, "line", 1)
    assert judge([sure, unsure_there], "48213", CODE).status == "review"
    assert judge([sure, unsure_elsewhere], "48213", CODE, Thresholds(doubt_room=1.0)).status == (
        "review"
    )


def test_readers_alike_fail_a_code_only_beyond_doubt_however_many_they_are() -> None:
    """Three readers can misread one glyph alike (a tune code, 47715, read 47215 at 0.91
    by all three with another glyph CNN): agreement does not lower the bar."""
    bar = Thresholds().fail_min_agreed
    for readers in ("ppocr+cnn", "ppocr+cnn+line"):
        assert judge([_by("48218", readers, 0.91)], "48213", CODE).status == "review"
        assert judge([_by("48218", readers, bar - 0.01)], "48213", CODE).status == "review"
        assert judge([_by("48218", readers, bar + 0.01)], "48213", CODE).status == "fail"


def _alike(*own: tuple[Char, ...]) -> Candidate:
    """One text read alike by PP-OCR, the glyph CNN and the line recogniser (in that
    order), each with its own characters, as the engine merges them."""
    chars = tuple(mean_char(place) for place in zip(*own, strict=True))
    return Candidate("48218", chars, "ppocr+cnn+line", 3, own=own)


def test_the_whole_line_readers_sure_fail_a_code_the_glyph_cnn_read_alike_less_surely() -> None:
    """All three read 48218: PP-OCR and the line recogniser surely, the glyph CNN at 0.80
    with nothing on the expected 3. The mean of the three (0.93) is under the bar, yet the
    two fail a code on no more than this when the CNN's reading differs elsewhere and
    leans their way there; reading the line as they do is no weaker a second."""
    ppocr, line = _read("48218", 1.0).chars, _read("48218", 0.99).chars
    cnn = _read("48218", 0.8, doubt={4: "0"}).chars
    assert Thresholds().fail_min_agreed > _alike(ppocr, cnn, line).chars[4].prob
    assert judge([_alike(ppocr, cnn, line)], "48213", CODE).status == "fail"
    # The CNN giving the expected 3 more than a little there, or under even odds: review.
    doubting = _read("48218", 0.8, doubt={4: "3"}).chars
    assert judge([_alike(ppocr, doubting, line)], "48213", CODE).status == "review"
    barely = _read("48218", 0.45, doubt={4: "0"}).chars
    assert judge([_alike(ppocr, barely, line)], "48213", CODE).status == "review"
    # The two not sure by themselves (their mean 0.92): review.
    unsure = _read("48218", 0.85).chars
    assert judge([_alike(ppocr, cnn, unsure)], "48213", CODE).status == "review"
    # Without each reader's own reading (an engine that kept none) the mean decides.
    blurred = replace(_alike(ppocr, cnn, line), own=())
    assert judge([blurred], "48213", CODE).status == "review"


def test_a_reader_that_barely_leans_does_not_second_a_fail() -> None:
    sure = _by("48218", "ppocr+cnn+line", 0.95)
    last = sure.chars[4]
    carried = replace(last, least=0.4)  # one reader gave the 8 only 0.4: two carried it
    weak = replace(sure, chars=(*sure.chars[:4], carried))
    assert judge([sure], "48213", CODE).status == "fail"
    assert judge([weak], "48213", CODE).status == "review"
    # Printed numbers are judged on PP-OCR alone: a handwriting reader's doubt is not heard.
    assert judge([weak], "48213", CODE, THRESHOLDS["print"]).status == "fail"


def test_print_is_judged_on_ppocr_alone() -> None:
    printed = THRESHOLDS["print"]
    # A handwriting reader's own rival neither blocks nor fails a printed number ...
    cands = [_by("48213", "ppocr"), _by("48218", "line"), _by("48218", "cnn")]
    assert judge(cands, "48213", CODE, printed).status == "pass"
    # ... nor does its agreement count: PP-OCR alone read this one, unsurely.
    unsure = [_by("48213", "ppocr+line+cnn", 0.85)]
    assert judge(unsure, "48213", CODE, printed).status == "review"
    assert judge(unsure, "48213", CODE).status == "pass"
    assert judge([_by("48218", "cnn+line")], "48213", CODE, printed).status == "review"
    assert judge([_by("48218", "ppocr")], "48213", CODE, printed).status == "fail"


def test_a_reader_not_heard_takes_its_probabilities_with_it() -> None:
    """PP-OCR read a printed number surely; the glyph CNN, which knows handwriting only,
    read the same digits unsurely. Judged on PP-OCR alone, PP-OCR's own certainty counts,
    not the two readers' mean."""
    ppocr, cnn = _read("48213", 0.99).chars, _read("48213", 0.4).chars
    mean = tuple(mean_char(place) for place in zip(ppocr, cnn, strict=True))
    both = Candidate("48213", mean, "ppocr+cnn", 2, own=(ppocr, cnn))
    verdict = judge([both], "48213", CODE, THRESHOLDS["print"])
    assert (verdict.status, verdict.detail) == ("pass", "read 48213 (0.99)")
    # An engine that kept no reader's own reading: the readers' mean stands for PP-OCR.
    blurred = replace(both, own=())
    assert judge([blurred], "48213", CODE, THRESHOLDS["print"]).status == "review"


def _three(text: str, p: float = 0.99, doubt: dict[int, str] | None = None) -> Candidate:
    return Candidate(text, _read(text, p, doubt=doubt).chars, "ppocr+cnn+line", 3)


def test_digits_handwriting_readers_confuse_are_review_not_fail() -> None:
    """A 2 written with a loop reads as a 9 to every reader: such a reading does not fail."""
    hand = THRESHOLDS["handwriting"]
    three = _three("19189", 0.97, doubt={4: "2"})  # sure, and the 2 given a little
    verdict = judge([three], "19182", CODE, hand)
    assert verdict.status == "review" and verdict.reason_code == "code_uncertain"
    assert "a handwritten 2 is often read as a 9" in verdict.detail
    # Other digits still fail, and the same reading of a printed number does too.
    assert judge([_read("19183")], "19182", CODE, hand).status == "fail"
    assert judge([_read("19189", agree=1)], "19182", CODE, THRESHOLDS["print"]).status == "fail"
    # Still a sure rival: it blocks a pass of the code it may be.
    both = [_read("19182", agree=3), three]
    assert judge(both, "19182", CODE, hand).status == "review"


def test_even_three_readers_sure_beyond_doubt_do_not_fail_a_confusable_pair() -> None:
    """Unseen writers: all three readers read a right 38919 as 38719 at 0.96-1.00."""
    hand = THRESHOLDS["handwriting"]
    verdict = judge([_three("38719", 1.0)], "38919", CODE, hand)
    assert verdict.status == "review" and "a handwritten 9 is often read as a 7" in verdict.detail
    # The same three readers, sure of a digit that is no pair, still fail the code.
    assert judge([_three("38319", 1.0)], "38919", CODE, hand).status == "fail"


def test_a_seven_or_a_nine_read_as_a_one_is_review() -> None:
    """Unseen writers: a 7 with a short bar (79954, all three readers) and a thin-looped 9
    (92726, PP-OCR and the CNN) read as a 1."""
    hand = THRESHOLDS["handwriting"]
    verdict = judge([_three("19954")], "79954", CODE, hand)
    assert verdict.status == "review" and "a handwritten 7 is often read as a 1" in verdict.detail
    verdict = judge([_read("12726", 0.97)], "92726", CODE, hand)
    assert verdict.status == "review" and "a handwritten 9 is often read as a 1" in verdict.detail


def test_a_nine_read_as_a_four_is_review() -> None:
    """An open-looped 9, shaken by motion blur, read as a 4 by two readers (tune photo)."""
    hand = THRESHOLDS["handwriting"]
    verdict = judge([_read("44765")], "94765", CODE, hand)
    assert verdict.status == "review" and "a handwritten 9 is often read as a 4" in verdict.detail
    # The pair has a direction: a 4 read as a 9 still fails.
    assert judge([_read("94765")], "44765", CODE, hand).status == "fail"


def test_the_readers_of_one_line_weighed_together_may_pass_a_code() -> None:
    # PP-OCR alone read the code, not surely enough for one reader; the line recogniser read
    # a 8 at the end, unsurely, leaving the 3 0.45. Their mean at every place: 0.575 or more.
    alone = _read("48213", 0.7, agree=1)
    other = replace(_read("48218", 0.55, doubt={4: "3"}), source="line", agree=1)
    assert judge([alone, other], "48213", CODE).status == "review"  # lines not known
    verdict = judge([_on(alone, 0), _on(other, 0)], "48213", CODE)
    assert verdict.status == "pass" and "weighing the readers" in verdict.detail
    # Not when they read different lines, nor when one gives the 3 (almost) nothing.
    assert judge([_on(alone, 0), _on(other, 1)], "48213", CODE).status == "review"
    sure = replace(_read("48218", 0.9, doubt={4: "3"}), source="line", agree=1)
    assert judge([_on(alone, 0), _on(sure, 0)], "48213", CODE).status == "review"


def test_the_same_line_read_upside_down_is_no_rival() -> None:
    # 18889 turned half round reads 68881, as surely: the line was read both ways.
    right, flipped = _read("18889", agree=2), _read("68881", agree=2)
    assert judge([right, flipped], "18889", CODE).status == "review"
    assert judge([_on(right, 3, 0), _on(flipped, 3, 180)], "18889", CODE).status == "pass"
    # Another line, or the same way up: still a rival.
    assert judge([_on(right, 3, 0), _on(flipped, 4, 180)], "18889", CODE).status == "review"
    assert judge([_on(right, 3, 90), _on(flipped, 3, 90)], "18889", CODE).status == "review"


def test_a_reader_that_read_part_of_the_line_as_the_expected_code_stands_in_the_way() -> None:
    """Two readers read 48852 for 42852; PP-OCR, on the same line, read only 2852: the
    expected digits where they read an 8. A person looks."""
    sure = _on(_by("48852", "cnn+line"), 0)
    part = _on(_by("2852", "ppocr"), 0)
    assert judge([sure, part], "42852", CODE).status == "review"
    # Not a part read on another line, nor one that is a part of the code read as well,
    # nor one shorter than `part_min`.
    assert judge([sure, _on(_by("2852", "ppocr"), 1)], "42852", CODE).status == "fail"
    assert judge([sure, _on(_by("852", "ppocr"), 0)], "42852", CODE).status == "fail"
    assert judge([sure, _on(_by("28", "ppocr"), 0)], "42852", CODE).status == "fail"


def test_the_expected_code_read_upside_down_is_review_never_fail() -> None:
    """09061 turned upside down reads 19060: three readers sure of it on a photo the engine
    read the wrong way up have not seen another code."""
    verdict = judge([_three("19060")], "09061", CODE)
    assert (verdict.status, verdict.observed) == ("review", "19060")
    assert "09061 upside down" in verdict.detail
    # Another code as near, not the turned one, still fails.
    assert judge([_three("19061")], "09061", CODE).status == "fail"
    # A turned 4 is no digit: readers may read anything there (84068 read 89068 ...).
    assert judge([_three("89068")], "84068", CODE).status == "review"
    # ... but a code with two such places has no turned reading to speak of.
    assert judge([_three("34511")], "34517", CODE).status == "fail"


def test_readers_that_barely_lean_the_expected_way_outvote_no_sure_rival() -> None:
    """19122 written, 19172 expected (a shaken tune photo): the line recogniser read 19172
    surely and the glyph CNN with it, but at 0.38 at the 7; PP-OCR read 19122 surely. Two
    readers against one, but one of the two barely: a person looks."""

    def pair(cnn_at_7: float) -> Candidate:
        line, sure, unsure = (_read("19172", p).chars for p in (1.0, 0.98, cnn_at_7))
        cnn = (*sure[:3], unsure[3], sure[4])
        chars = tuple(mean_char(place) for place in zip(line, cnn, strict=True))
        return Candidate("19172", chars, "cnn+line", 2, own=(cnn, line))

    sure_rival = _by("19122", "ppocr", 0.96)
    hand = THRESHOLDS["handwriting"]
    verdict = judge([pair(0.38), sure_rival], "19172", CODE, hand)
    assert (verdict.status, verdict.reason_code) == ("review", "code_uncertain")
    assert "just as surely 19122" in verdict.detail
    assert judge([pair(0.60), sure_rival], "19172", CODE, hand).status == "pass"
    assert (
        judge([pair(0.38), sure_rival], "19172", CODE, replace(hand, outvote_min_each=0.3)).status
        == "pass"
    )
