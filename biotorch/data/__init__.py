"""Everything between a file on disk and a batch of Tensors: encodings, batching, loading."""

from biotorch.data import transforms
from biotorch.data.alphabets import DNA, PROTEIN, RNA, Alphabet
from biotorch.data.batching import Batch, SequenceCollator, collate_sequences, pad_sequences
from biotorch.data.datasets import (
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    current_rng,
    get_worker_info,
    random_split,
)
from biotorch.data.encoding import RaggedArray, decode, encode, one_hot, reverse_complement
from biotorch.data.fasta import FastaDataset, FileFormatError, SequenceTableDataset, read_fasta
from biotorch.data.genome import Genome
from biotorch.data.intervals import GenomeWindowSampler, IntervalDataset, read_bed
from biotorch.data.loader import DataLoader, default_collate
from biotorch.data.samplers import (
    BatchSampler,
    BucketBatchSampler,
    DistributedBatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from biotorch.data.shuffle import dinucleotide_shuffle
from biotorch.data.store import SequenceStore
from biotorch.data.tokenizers import KmerTokenizer, Vocab
from biotorch.data.variants import VariantDataset, read_vcf

__all__ = [
    "Alphabet",
    "DNA",
    "RNA",
    "PROTEIN",
    "encode",
    "decode",
    "one_hot",
    "reverse_complement",
    "dinucleotide_shuffle",
    "RaggedArray",
    "KmerTokenizer",
    "Vocab",
    "pad_sequences",
    "Batch",
    "SequenceCollator",
    "collate_sequences",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "BatchSampler",
    "BucketBatchSampler",
    "DistributedSampler",
    "DistributedBatchSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "transforms",
    "Dataset",
    "IterableDataset",
    "Subset",
    "ConcatDataset",
    "random_split",
    "get_worker_info",
    "current_rng",
    "DataLoader",
    "default_collate",
    "SequenceStore",
    "read_fasta",
    "FastaDataset",
    "SequenceTableDataset",
    "FileFormatError",
    "Genome",
    "read_bed",
    "IntervalDataset",
    "read_vcf",
    "VariantDataset",
    "GenomeWindowSampler",
]
