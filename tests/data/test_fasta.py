import gzip
import os
import pickle
import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
from genomic_files import damage, random_sequences, write_fasta

from biotorch.data import (
    DNA,
    PROTEIN,
    FastaDataset,
    FileFormatError,
    SequenceStore,
    SequenceTableDataset,
    decode,
    encode,
    read_bed,
    read_fasta,
)

RECORDS = {"r1 label=pos": "ACGTACGTAAC", "r2 label=neg": "ggNNcc", "r3 label=pos": "TTTTA"}


@pytest.mark.parametrize("name", ["a.fa", "a.fa.gz"])
def test_read_fasta_plain_and_gzip(tmp_path, name):
    path = write_fasta(tmp_path / name, RECORDS, width=4)
    records = list(read_fasta(path, DNA))
    assert [r.id for r in records] == ["r1", "r2", "r3"]
    assert [r.sequence for r in records] == list(RECORDS.values())
    assert records[1].description == "label=neg" and records[1].line == 5


def test_windows_line_endings_and_byte_order_mark(tmp_path):
    path = tmp_path / "windows.fa"
    path.write_bytes(b"\xef\xbb\xbf>r1 first\r\nACGT\r\nac\r\n>r2\r\nGG\r\n")
    records = list(read_fasta(path, DNA))
    assert [(r.id, r.description, r.sequence) for r in records] == [
        ("r1", "first", "ACGTac"),
        ("r2", "", "GG"),
    ]
    assert list(FastaDataset(path).ids) == ["r1", "r2"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("ACGT\n>r1\nAC\n", r"line 1: sequence data before the first '>' header"),
        (">r1\nAC\n>r2\n>r3\nGG\n", r"line 3: record 'r2' is empty"),
        (">r1\nAC\n>r2\n", r"line 3: record 'r2' is empty"),
        (
            ">r1\nAC\n>r2\nGG\n>r1 again\nTT\n",
            r"line 5: duplicate record id 'r1' \(first at line 1\)",
        ),
        (">r1\nACGT\nAC\n>r2\nGGTT\nGGJT\n", r"line 6: record 'r2': .*invalid character 'J'"),
        ("\n\n", "no FASTA records"),
    ],
)
def test_fasta_errors_name_file_line_and_record(tmp_path, text, match):
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=match) as info:
        list(read_fasta(path, DNA))
    assert str(path) in str(info.value)
    with pytest.raises(FileFormatError, match=match):
        FastaDataset(path)


def test_dataset_tokens_and_store(tmp_path):
    path = write_fasta(tmp_path / "a.fa", RECORDS)
    ds = FastaDataset(path)
    assert len(ds) == 3 and ds.ids.tolist() == ["r1", "r2", "r3"]
    assert ds.lengths.tolist() == [11, 6, 5]
    assert decode(ds[1], DNA) == "GGNNCC" and ds[1].dtype == np.int8
    assert not ds[0].flags.writeable
    store = ds.store
    assert isinstance(store, SequenceStore) and store.sequences.data.size == 22
    # a pickled dataset carries a few buffers, not one Python object per sequence
    many = FastaDataset(write_fasta(tmp_path / "m.fa", {f"s{i}": "ACGTA" for i in range(3000)}))
    assert len(pickle.dumps(many)) < 5000 + many.store.nbytes + many.ids.nbytes


def test_labels_from_header_classes_and_skip(tmp_path):
    path = write_fasta(tmp_path / "a.fa", {**RECORDS, "r4": "ACG", "r5 x=1": "GG"})
    with pytest.raises(ValueError, match=r"a.fa, line \d+: record 'r4' has no label \(2 record"):
        FastaDataset(path, label_from_header="label")
    with pytest.warns(UserWarning, match=r"skipped 2 record\(s\) without a label.*'r4'"):
        ds = FastaDataset(path, label_from_header="label", on_missing_label="skip")
    assert ds.classes == ["neg", "pos"] and ds.targets.tolist() == [1, 0, 1]
    assert ds.skipped == 2 and len(ds) == 3
    with pytest.warns(UserWarning, match="skipped 2"):
        ds = FastaDataset(
            path, label_from_header="label", classes=["pos", "neg"], on_missing_label="skip"
        )
    assert ds.targets.tolist() == [0, 1, 0]


def test_one_file_per_class(tmp_path):
    pos = write_fasta(tmp_path / "pos.fa", {"p1": "ACGT", "p2": "AA"})
    neg = write_fasta(tmp_path / "neg.fa.gz", {"n1": "GG"})
    ds = FastaDataset({"bound": pos, "unbound": neg})
    assert ds.classes == ["bound", "unbound"]
    assert [(decode(x), int(y)) for x, y in (ds[i] for i in range(3))] == [
        ("ACGT", 0),
        ("AA", 0),
        ("GG", 1),
    ]
    dup = write_fasta(tmp_path / "dup.fa", {"p1": "C"})
    with pytest.raises(FileFormatError, match=r"dup.fa, line 1: record 'p1': duplicate record id"):
        FastaDataset({"a": pos, "b": dup})


@pytest.mark.parametrize("sep, name", [(",", "labels.csv"), ("\t", "labels.tsv")])
def test_labels_table_single_multi_and_columns(tmp_path, sep, name):
    path = write_fasta(tmp_path / "a.fa", RECORDS)
    table = pd.DataFrame(
        {"id": ["r3", "r1", "r2", "extra"], "cls": [2, 0, 1, 1], "tags": ["a;b", "b", "", "a"]}
    )
    table["t1"], table["t2"] = [1.0, 0.0, 0.5, 1.0], [0, 1, 1, 0]
    labels = tmp_path / name
    table.to_csv(labels, sep=sep, index=False)
    with pytest.warns(UserWarning, match="1 label row"):
        ds = FastaDataset(path, labels=labels, label_columns="cls")
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == [0, 1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(label_columns="tags", multi_label=True, on_missing_label="skip")
        multi = FastaDataset(path, labels=table, **kw)
        cols = FastaDataset(path, labels=labels, label_columns=["t1", "t2"])
    assert multi.classes == ["a", "b"] and multi.ids.tolist() == ["r1", "r3"]
    assert multi.targets.tolist() == [[0, 1], [1, 1]]
    assert cols.targets.dtype == np.float32
    assert cols.targets.tolist() == [[0.0, 1.0], [0.5, 1.0], [1.0, 0.0]]
    x, y = cols[2]
    assert decode(x) == "TTTTA" and y.tolist() == [1.0, 0.0]


def test_missing_label_column_and_protein(tmp_path):
    path = write_fasta(tmp_path / "p.fa", {"p1": "MKVL", "p2": "ACDY"})
    ds = FastaDataset(path, alphabet=PROTEIN)
    assert ds[0].tolist() == encode("MKVL", PROTEIN).tolist()
    with pytest.raises(ValueError, match=r"no column\(s\) \['label'\]"):
        FastaDataset(path, alphabet=PROTEIN, labels=pd.DataFrame({"id": ["p1"], "y": [1]}))


def test_transforms_get_the_loader_stream(tmp_path):
    path = write_fasta(tmp_path / "a.fa", RECORDS)
    seen = []

    def jitter(x, rng):
        seen.append(rng)
        return x[::-1]

    add = lambda y: y + 10  # noqa: E731
    ds = FastaDataset(path, label_from_header="label", transform=jitter, target_transform=add)
    x, y = ds[2]
    assert decode(x) == "ATTTT" and y == 11 and isinstance(seen[0], np.random.Generator)


def test_sequence_table(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("name,sequence,label\na,ACGT,bound\nb,GGA,unbound\nc,T,bound\n")
    ds = SequenceTableDataset(csv, id_column="name")
    assert ds.ids.tolist() == ["a", "b", "c"] and ds.classes == ["bound", "unbound"]
    assert [decode(ds[i][0]) for i in range(3)] == ["ACGT", "GGA", "T"]
    assert ds.targets.tolist() == [0, 1, 0]
    tsv = tmp_path / "t.txt"
    tsv.write_text("sequence\tlabel\nACGT\t1.5\nNA\t\n")
    with pytest.raises(ValueError, match=r"t.txt, line 3: record '1' has no label"):
        SequenceTableDataset(tsv)
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = SequenceTableDataset(tsv, on_missing_label="skip")
    assert ds.targets.dtype == np.float32 and ds.targets.tolist() == [1.5]
    frame = pd.DataFrame({"sequence": ["ACGT", "AC*T"], "label": [0, 1]})
    with pytest.raises(
        FileFormatError, match=r"DataFrame, row 1: record '1': .*'\*' at position 2"
    ):
        SequenceTableDataset(frame)
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,label\nACGT,0\n,1\n")
    with pytest.raises(FileFormatError, match=r"bad.csv, line 3: record '1': empty sequence"):
        SequenceTableDataset(bad)
    unlabeled = SequenceTableDataset(csv, label_columns=None)
    assert unlabeled.targets is None and decode(unlabeled[1]) == "GGA"


def test_indexed_mode_matches_in_memory(tmp_path):
    from biotorch.data import DataLoader, collate_sequences

    rng = np.random.default_rng(4)
    records = {f"s{i}": "".join(rng.choice(list("ACGTNacgt"), 5 + 3 * i)) for i in range(30)}
    pos = write_fasta(tmp_path / "pos.fa", dict(list(records.items())[:20]))
    neg = write_fasta(tmp_path / "neg.fa", dict(list(records.items())[20:]))
    loaded = FastaDataset({"pos": pos, "neg": neg})
    indexed = FastaDataset({"pos": pos, "neg": neg}, in_memory=False)
    assert (tmp_path / "pos.fa.fai").exists()
    assert indexed.ids.tolist() == loaded.ids.tolist()
    assert indexed.lengths.tolist() == loaded.lengths.tolist()
    kw = dict(batch_size=7, shuffle=True, seed=2, collate_fn=collate_sequences)
    want = [
        (b.inputs.numpy().tolist(), b.labels.numpy().tolist()) for b in DataLoader(loaded, **kw)
    ]
    got = [
        (b.inputs.numpy().tolist(), b.labels.numpy().tolist())
        for b in DataLoader(indexed, num_workers=2, **kw)
    ]
    assert got == want


def test_indexed_mode_errors(tmp_path):
    path = write_fasta(tmp_path / "a.fa", {"r1": "ACGT", "r2": "AXGT"})
    ds = FastaDataset(path, in_memory=False)
    with pytest.raises(ValueError, match=r"a.fa: r2:0-4: encode: invalid character 'X'"):
        ds[1]
    with pytest.raises(ValueError, match="label_from_header needs in_memory=True"):
        FastaDataset(path, in_memory=False, label_from_header="label")
    with pytest.raises(ValueError, match="bgzip"):
        FastaDataset(write_fasta(tmp_path / "b.fa.gz", {"r": "A"}), in_memory=False)


# Headers whose id ends at a tab, runs of spaces, a leading space, a vertical tab; the id is
# everything up to the first whitespace of any kind, in both modes.
ODD_HEADERS = {
    "r1\tdescription after a tab": "ACGTACGTAC",
    "r2   three  spaces": "GGGCC",
    " r3 leading space": "TTAACCGG",
    "r4\t\tkey=a b": "ACG",
    "r5\x0bvertical tab": "CCCCAA",
}
ODD_IDS = ["r1", "r2", "r3", "r4", "r5"]


def test_ids_end_at_any_whitespace_in_both_modes(tmp_path):
    path = write_fasta(tmp_path / "odd.fa", ODD_HEADERS)
    records = list(read_fasta(path))
    assert [r.id for r in records] == ODD_IDS
    assert [r.description for r in records] == [
        "description after a tab",
        "three  spaces",
        "leading space",
        "key=a b",
        "vertical tab",
    ]
    loaded, indexed = FastaDataset(path), FastaDataset(path, in_memory=False)
    assert loaded.ids.tolist() == indexed.ids.tolist() == ODD_IDS
    assert [decode(loaded[i]) for i in range(5)] == [decode(indexed[i]) for i in range(5)]
    assert not any(c in rid for rid in loaded.ids for c in "\t\r\n ")


@pytest.mark.parametrize("header", ["", " ", "\t \t"])
def test_header_without_id_is_refused_in_both_modes(tmp_path, header):
    path = tmp_path / "noid.fa"
    path.write_text(f">r1\nACGT\n\n>{header}\nACGT\n")
    for in_memory in (True, False):
        with pytest.raises(FileFormatError, match=r"noid.fa, line 4: header has no record id"):
            FastaDataset(path, in_memory=in_memory)


def test_ids_equal_up_to_whitespace_are_duplicates_in_both_modes(tmp_path):
    path = tmp_path / "dup.fa"
    path.write_text(">r1\tfirst\nACGT\n>r2\nGG\n>r1 second\nTT\n")
    for in_memory in (True, False):
        with pytest.raises(FileFormatError, match=r"line 5: duplicate record id 'r1' \(first at"):
            FastaDataset(path, in_memory=in_memory)


def test_index_with_whitespace_in_a_name_is_refused(tmp_path):
    path = write_fasta(tmp_path / "a.fa", {"r1": "ACGT", "r2": "GG"})
    fai = tmp_path / "a.fa.fai"
    fai.write_text("r1\t4\t4\t7\t8\nr2 x\t2\t13\t7\t8\n")  # written by hand, newer
    os.utime(fai, (os.path.getmtime(path) + 10,) * 2)
    with pytest.raises(FileFormatError, match=r"a.fa.fai, line 2: record id 'r2 x' holds white"):
        FastaDataset(path, in_memory=False)


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_gzip_fasta_names_the_file_and_line(tmp_path, how):
    path = damage(write_fasta(tmp_path / "a.fa.gz", random_sequences(0, 40, 500), 60), how)
    for read in (lambda: list(read_fasta(path)), lambda: FastaDataset(path)):
        with pytest.raises(FileFormatError, match=r"a.fa.gz, after line \d+: truncated or cor"):
            read()
    with pytest.raises(FileFormatError) as info:
        FastaDataset(path)
    assert isinstance(info.value.__cause__, (EOFError, zlib.error, gzip.BadGzipFile))


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_gzip_tables(tmp_path, how):
    fasta = write_fasta(tmp_path / "a.fa", RECORDS)
    rows = "".join(f"r{i},{'ACGT' * (i % 7 + 1)},{i % 3}\n" for i in range(3000))
    table = tmp_path / "t.csv.gz"
    table.write_bytes(gzip.compress(("id,sequence,label\n" + rows).encode()))
    damage(table, how)
    match = r"t.csv.gz(, after line \d+)?: truncated or corrupt gzip data"
    with pytest.raises(FileFormatError, match=match):
        SequenceTableDataset(table)
    with pytest.raises(FileFormatError, match=match):
        FastaDataset(fasta, labels=table)


def test_ids_and_class_names_are_read_verbatim(tmp_path):
    odd = ["NA", "null", "NaN", "None", "nan", "N/A"]
    fasta = write_fasta(tmp_path / "a.fa", {rid: "ACGT" for rid in odd})
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label,score\n" + "".join(f"{r},{r},{i}\n" for i, r in enumerate(odd)))
    ds = FastaDataset(fasta, labels=labels)
    assert ds.ids.tolist() == odd and ds.classes == sorted(odd)
    assert [ds.classes[t] for t in ds.targets] == odd
    scores = FastaDataset(fasta, labels=labels, label_columns="score")
    assert scores.targets.tolist() == list(range(6))
    table = tmp_path / "t.tsv"
    table.write_text("id\tsequence\tlabel\nNA\tNA\tNA\nnull\tACGT\tbound\n")
    ds = SequenceTableDataset(table, id_column="id")
    assert ds.ids.tolist() == ["NA", "null"] and ds.classes == ["NA", "bound"]
    assert decode(ds[0][0]) == "NA" and ds.targets.tolist() == [0, 1]


def test_missing_numbers_and_text_that_is_not_a_number(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("sequence,y1,y2\nACGT,1,0.5\nGG,NA,1\nTT,0,abc\n")
    with pytest.raises(ValueError, match=r"t.csv, line 3: record '1' has no label"):
        SequenceTableDataset(table, label_columns="y1")
    with pytest.raises(FileFormatError, match=r"t.csv, line 4: record '2': column 'y2': 'abc' is"):
        SequenceTableDataset(table, label_columns=["y1", "y2"])
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = SequenceTableDataset(table, label_columns="y1", on_missing_label="skip")
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == [1, 0]


def test_class_names_that_look_like_numbers_stay_text(tmp_path):
    fasta = write_fasta(tmp_path / "a.fa", RECORDS)
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label,tags\nr1,1,1;2\nr2,,2\nr3,0,\n")
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = FastaDataset(fasta, labels=labels, classes=["0", "1"], on_missing_label="skip")
    assert ds.ids.tolist() == ["r1", "r3"] and ds.targets.tolist() == [1, 0]
    with pytest.warns(UserWarning, match="skipped 1"):
        kw = dict(label_columns="tags", multi_label=True, on_missing_label="skip")
        ds = FastaDataset(fasta, labels=labels, **kw)
    assert ds.classes == ["1", "2"] and ds.targets.tolist() == [[1, 1], [0, 1]]


def test_table_errors_name_the_file_line_after_blank_lines(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("\n\nsequence,label\nACGT,0\n\n   \nGG,1\n\nAXT,1\n")
    with pytest.raises(FileFormatError, match=r"t.csv, line 9: record '2': .*'X'"):
        SequenceTableDataset(table)
    fasta = write_fasta(tmp_path / "a.fa", RECORDS)
    labels = tmp_path / "labels.tsv"
    labels.write_text("id\tlabel\nr1\t0\n\n# a note\t1\n\nr1\t1\n")
    with pytest.raises(FileFormatError, match=r"labels.tsv, line 6: duplicate id 'r1' in 'id'"):
        FastaDataset(fasta, labels=labels)


def test_malformed_tables_are_file_format_errors(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("sequence,label\nACGT,0\n\n\nGG,1,extra\n")
    with pytest.raises(FileFormatError, match=r"t.csv: .*Expected 2 fields in line 5, saw 3"):
        SequenceTableDataset(table)
    table.write_text("\n\n")
    with pytest.raises(FileFormatError, match=r"t.csv: empty table \(no header line\)"):
        SequenceTableDataset(table)
    bed = tmp_path / "a.bed"
    bed.write_text("#c\nchr1\t1\t2\n\nchr1\t1\t2\t4\n")
    with pytest.raises(FileFormatError, match=r"a.bed: .*Expected 3 fields in line 4, saw 4"):
        read_bed(bed)


def test_table_ids_that_are_empty_or_hold_a_tab_are_refused(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text('id,sequence\nok,ACGT\n"a\tb",GG\n')
    with pytest.raises(FileFormatError, match=r"t.csv, line 3: record id 'a\\tb' holds a tab"):
        SequenceTableDataset(table, id_column="id", label_columns=None)
    table.write_text("id,sequence\nok,ACGT\n\n,GG\n")
    with pytest.raises(FileFormatError, match=r"t.csv, line 4: empty record id"):
        SequenceTableDataset(table, id_column="id", label_columns=None)
