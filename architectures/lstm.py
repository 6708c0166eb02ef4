"""Long short-term memory (Hochreiter & Schmidhuber 1997): the recurrent stack of ``rnn.py`` with LSTM cells."""

from __future__ import annotations

from architectures.rnn import RNN


class LSTM(RNN):
    """LSTM stack; takes the same arguments as :class:`architectures.rnn.RNN`."""

    cell = "lstm"
