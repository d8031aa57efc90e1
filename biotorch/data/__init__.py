"""Everything between a file on disk and a batch of Tensors: encodings, batching, loading."""

from biotorch.data import transforms
from biotorch.data.alphabets import DNA, PROTEIN, RNA, Alphabet
from biotorch.data.batching import Batch, SequenceCollator, collate_sequences, pad_sequences
from biotorch.data.encoding import RaggedArray, decode, encode, one_hot, reverse_complement
from biotorch.data.samplers import (
    BatchSampler,
    BucketBatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)
from biotorch.data.tokenizers import KmerTokenizer, Vocab

__all__ = [
    "Alphabet",
    "DNA",
    "RNA",
    "PROTEIN",
    "encode",
    "decode",
    "one_hot",
    "reverse_complement",
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
    "transforms",
]
