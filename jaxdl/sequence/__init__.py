"""Sequence tasks: CTC on synthetic speech, a seq2seq adder with teacher forcing."""

from jaxdl.sequence.ctc_task import CTCResult, ctc_loss_fn, evaluate_ctc, train_ctc
from jaxdl.sequence.seq2seq_task import (
    Seq2SeqResult,
    evaluate_seq2seq,
    teacher_forced_loss,
    train_seq2seq,
)

__all__ = [
    "CTCResult",
    "Seq2SeqResult",
    "ctc_loss_fn",
    "evaluate_ctc",
    "evaluate_seq2seq",
    "teacher_forced_loss",
    "train_ctc",
    "train_seq2seq",
]
