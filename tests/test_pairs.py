import numpy as np
import pytest

from revmatch.model.pairs import (
    PairSources,
    coauthor_relevance,
    make_pairs,
    pair_kind_counts,
    paper_author_ids,
    parse_pair_kinds,
    title_rests,
)


def test_parse_pair_kinds():
    assert parse_pair_kinds("halves") == ("halves",)
    assert parse_pair_kinds("coauthors+titles+coauthors") == ("coauthors", "titles")
    with pytest.raises(ValueError, match="unknown training pair kind.*'authors'"):
        parse_pair_kinds("authors+titles")


def test_paper_author_ids_skips_authors_without_an_id():
    assert paper_author_ids([{"id": "a"}, {"name": "No Id"}, {"id": 7}]) == ["a", "7"]
    assert paper_author_ids(None) == []


@pytest.mark.parametrize("seg_length", [1, 3])
def test_halves_are_disjoint_and_cover_the_pieces(seg_length):
    rng = np.random.default_rng(0)
    lengths = [seg_length + 1, 5, 7, 40, 41]
    sequences = [np.arange(n) + 1000 * i for i, n in enumerate(lengths)]
    first, second = make_pairs(sequences, seg_length, rng)
    for ids, a, b in zip(sequences, first, second, strict=True):
        n_segments = -(-len(ids) // seg_length)
        assert len(a) and len(b)
        assert not set(a) & set(b)
        assert np.array_equal(np.sort(np.concatenate([a, b])), ids)
        segments_a = {int(x - ids[0]) // seg_length for x in a}
        segments_b = {int(x - ids[0]) // seg_length for x in b}
        assert not segments_a & segments_b, "a segment was split between the halves"
        assert len(segments_a) == n_segments // 2
    again = make_pairs(sequences, seg_length, np.random.default_rng(0))
    assert all(np.array_equal(x, y) for x, y in zip(first, again[0], strict=True))
    other = make_pairs(sequences, seg_length, np.random.default_rng(1))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other[0], strict=True))
    with pytest.raises(ValueError, match="two segments"):
        make_pairs([np.arange(seg_length)], seg_length, rng)


def test_title_rests_pair_a_title_with_the_rest_of_its_text():
    sequences = [np.array([1, 2, 3, 4]), np.array([5, 6, 7]), np.array([8, 9]), np.array([10, 11])]
    titles = [np.array([1, 2]), np.array([9]), np.array([], dtype=np.int64), np.array([10, 11])]
    rests = title_rests(sequences, titles)
    assert rests[0].tolist() == [3, 4]          # the text starts with its title: the rest
    assert rests[1].tolist() == [5, 6, 7]       # a text without its title: all of it
    assert rests[2] is None and rests[3] is None  # no title; nothing beyond the title


def test_coauthor_pairs_draw_a_partner_and_fall_back_to_halves():
    sequences = [np.arange(6) + 100 * i for i in range(5)]
    authors = [["x"], ["x", "y"], ["y"], ["z"], []]
    sources = PairSources.build(sequences, author_ids=authors)
    assert pair_kind_counts(("coauthors",), sources, 5) == {"coauthors": 3}
    partners = {0: {1}, 1: {0, 2}, 2: {1}}
    seen = {i: set() for i in partners}
    for seed in range(20):
        first, second = make_pairs(sequences, 1, np.random.default_rng(seed), ("coauthors",), sources)
        for i, allowed in partners.items():
            assert np.array_equal(first[i], sequences[i])
            j = int(second[i][0]) // 100
            assert j in allowed
            seen[i].add(j)
        for i in (3, 4):  # nobody to pair with: two disjoint halves
            assert not set(first[i]) & set(second[i])
            assert np.array_equal(np.sort(np.concatenate([first[i], second[i]])), sequences[i])
    assert seen == partners  # every partner is drawn
    again = make_pairs(sequences, 1, np.random.default_rng(3), ("coauthors",), sources)
    once = make_pairs(sequences, 1, np.random.default_rng(3), ("coauthors",), sources)
    assert all(np.array_equal(a, b) for a, b in zip(again[1], once[1], strict=True))


def test_mixed_kinds_are_drawn_uniformly_among_those_a_sequence_has():
    n = 4000
    sequences = [np.arange(8) + 10 * i for i in range(n)]
    authors = [["a" if i % 2 == 0 else f"solo{i}"] for i in range(n)]  # even ones are co-authored
    titles = [s[:2] for s in sequences]
    sources = PairSources.build(sequences, author_ids=authors, titles=titles)
    first, second = make_pairs(sequences, 1, np.random.default_rng(0), ("coauthors", "titles"), sources)
    is_title = np.array([len(a) == 2 and np.array_equal(b, s[2:])
                         for a, b, s in zip(first, second, sequences, strict=True)])
    is_coauthor = np.array([np.array_equal(a, s) and len(b) == 8 and not np.array_equal(b, s)
                            for a, b, s in zip(first, second, sequences, strict=True)])
    assert not (is_title & is_coauthor).any() and (is_title | is_coauthor).all()
    assert not is_coauthor[1::2].any()               # odd ones can only form a title pair
    assert abs(is_coauthor[::2].mean() - 0.5) < 0.05  # even ones: either kind, half each


def test_pairs_that_need_sources_refuse_without_them():
    sequences = [np.arange(4), np.arange(4)]
    with pytest.raises(ValueError, match="author ids"):
        make_pairs(sequences, 1, np.random.default_rng(0), ("coauthors",))
    with pytest.raises(ValueError, match="titles"):
        make_pairs(sequences, 1, np.random.default_rng(0), ("halves", "titles"), PairSources())


def test_coauthor_relevance_excludes_the_paper_itself():
    relevant = coauthor_relevance([["x", "y"], ["z"], ["x"], ["y"]], np.array([0, 2]))
    assert relevant.toarray().tolist() == [[False, False, True, True], [True, False, False, False]]
