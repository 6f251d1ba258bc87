"""How well a genre model does on held-out songs, beside the two baselines it must beat (Django-free).

Seed 002's table: accuracy, log loss, macro and per-genre precision, recall and F1, and genre precision at 5
and 10 of the learnt embedding (leave-one-out by cosine among the held-out songs, ``evaluation``). The baselines
are evaluated on the same held-out songs: the mapping from MSD tags to genres that analysis applies today
(``analysis.predicted_genres``), and a logistic regression on frozen features (the stored song embedding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recommender.core import evaluation

# Retrieval at these cut-offs needs more held-out songs than the larger one.
RETRIEVAL_K = 10


def label_indices(names: Sequence[str | None], labels: Sequence[str]) -> np.ndarray:
    """Each name's position in ``labels``, compared without regard to case; -1 for a name not among them.

    Returns
    -------
    indices : np.ndarray [shape=(len(names),), dtype=int64]
    """
    position = {label.casefold(): i for i, label in enumerate(labels)}
    return np.array([position.get((name or "").casefold(), -1) for name in names], dtype=np.int64)


def classification_metrics(
    true: np.ndarray, predicted: np.ndarray, *, labels: Sequence[str], probabilities: np.ndarray | None = None
) -> dict[str, Any]:
    """Seed 002's classification table for one set of predictions.

    Parameters
    ----------
    true : np.ndarray [shape=(n,), dtype=int]
        Each song's label, an index into ``labels``.
    predicted : np.ndarray [shape=(n,), dtype=int]
        The predicted label's index; -1 for a prediction outside ``labels`` (always wrong).
    labels : sequence of str
    probabilities : np.ndarray [shape=(n, len(labels))] or None
        Rows summing to 1, for the log loss; without them the log loss is ``None``.

    Returns
    -------
    metrics : dict
        ``songs``; ``accuracy``; ``log_loss`` (natural log, probabilities clipped at 1e-7, or None);
        ``macro_precision``, ``macro_recall``, ``macro_f1``: the unweighted means over the labels that have
        held-out songs; ``per_label``: ``{label: {precision, recall, f1, support}}`` for those labels;
        ``confusion``: ``[[count]]``, true labels down, predicted across, in the order of ``labels``;
        ``outside``: predictions of a genre that is not among ``labels``.
    """
    from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

    true = np.asarray(true, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if len(true) == 0:
        raise ValueError("no songs to evaluate")
    present = sorted(set(true.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=present, zero_division=0)
    metrics: dict[str, Any] = {
        "songs": len(true),
        "accuracy": float((true == predicted).mean()),
        "log_loss": None,
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
        "per_label": {
            labels[i]: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for i, p, r, f, s in zip(present, precision, recall, f1, support, strict=True)
        },
        "confusion": confusion_matrix(true, predicted, labels=list(range(len(labels)))).tolist(),
        "outside": int((predicted < 0).sum()),
    }
    if probabilities is not None:
        clipped = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1.0)
        clipped /= clipped.sum(axis=1, keepdims=True)
        metrics["log_loss"] = float(log_loss(true, clipped, labels=list(range(len(labels)))))
    return metrics


def embedding_retrieval(
    vectors: np.ndarray, true_labels: Sequence[str], *, artists: Sequence[str | None] | None = None
) -> dict[str, Any]:
    """Genre precision at 5 and 10 of an embedding: leave-one-out by cosine among the given songs (seed 002).

    Returns
    -------
    retrieval : dict
        ``p@5``, ``p@10``, ``map@10``, ``artist_filtered_p@10``, ``hubness@10``, ``chance`` and ``queries`` from
        ``evaluation.leave_one_out_metrics``; all ``None`` when there are 10 songs or fewer, or no genre has two,
        or all are of one genre (every neighbour would be right, whatever the embedding).
    """
    keys = ("p@5", f"p@{RETRIEVAL_K}", f"map@{RETRIEVAL_K}", f"artist_filtered_p@{RETRIEVAL_K}")
    keys += (f"hubness@{RETRIEVAL_K}", "chance", "queries")
    if len(set(true_labels)) < 2:
        return dict.fromkeys(keys)
    try:
        found = evaluation.leave_one_out_metrics(vectors, true_labels, artists=artists, k=RETRIEVAL_K)
    except ValueError:  # too few songs, or no genre shared by two of them
        return dict.fromkeys(keys)
    return {key: found[key] for key in keys}


def song_report(
    true_labels: Sequence[str],
    *,
    labels: Sequence[str],
    predicted_labels: Sequence[str | None] | None = None,
    probabilities: np.ndarray | None = None,
    embeddings: np.ndarray | None = None,
    artists: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """The classification table and, given an embedding, its retrieval precision, for songs' predictions.

    Parameters
    ----------
    true_labels : sequence of str [length n]
    labels : sequence of str
        The labels a model can predict (its softmax's columns).
    predicted_labels : sequence of str or None [length n], optional
        The predicted genre by name (a baseline's); by default the most probable column of ``probabilities``.
    probabilities : np.ndarray [shape=(n, len(labels))], optional
    embeddings : np.ndarray [shape=(n, d)], optional
        Song vectors for ``embedding_retrieval``.
    artists : sequence of str or None [length n], optional

    Returns
    -------
    report : dict
        ``classification_metrics`` plus ``retrieval`` (``embedding_retrieval``, or None without embeddings).
    """
    true = label_indices(true_labels, labels)
    if (true < 0).any():
        missing = sorted({label for label, i in zip(true_labels, true, strict=True) if i < 0})
        raise ValueError(f"held-out songs have labels the model cannot predict: {', '.join(missing)}")
    if predicted_labels is not None:
        predicted = label_indices(predicted_labels, labels)
    elif probabilities is not None:
        predicted = np.asarray(probabilities).argmax(axis=1)
    else:
        raise ValueError("give predicted_labels or probabilities")
    report = classification_metrics(true, predicted, labels=labels, probabilities=probabilities)
    report["retrieval"] = (
        embedding_retrieval(embeddings, true_labels, artists=artists) if embeddings is not None else None
    )
    return report


def tag_mapping_predictions(tag_scores: Sequence[Mapping[str, float]]) -> list[str | None]:
    """The genre today's analysis gives each song from its MSD tag scores (``analysis.predicted_genres``)."""
    from recommender.core.analysis import predicted_genres

    predictions = []
    for scores in tag_scores:
        genres = predicted_genres(dict(scores))
        predictions.append(genres[0] if genres else None)
    return predictions


def logistic_regression_probabilities(
    train_features: np.ndarray,
    train_labels: Sequence[str],
    test_features: np.ndarray,
    *,
    labels: Sequence[str],
    seed: int = 0,
) -> np.ndarray:
    """A logistic regression on frozen song vectors, the simple learnt baseline.

    Each feature is standardised with the training songs' mean and standard deviation; classes are weighted by
    the inverse of their share, as the networks' examples are.

    Parameters
    ----------
    train_features : np.ndarray [shape=(n_train, d)]
    train_labels : sequence of str [length n_train]
        Every one of ``labels`` should occur.
    test_features : np.ndarray [shape=(n_test, d)]
    labels : sequence of str
        The columns of the result.
    seed : int

    Returns
    -------
    probabilities : np.ndarray [shape=(n_test, len(labels)), dtype=float64]
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = label_indices(train_labels, labels)
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=5000, class_weight="balanced", random_state=seed)
    )
    model.fit(np.asarray(train_features, dtype=np.float64), y)
    found = model.predict_proba(np.asarray(test_features, dtype=np.float64))
    probabilities = np.zeros((len(test_features), len(labels)))
    probabilities[:, model.classes_] = found
    return probabilities


def summary_row(report: Mapping[str, Any]) -> dict[str, float | None]:
    """The headline figures of a ``song_report``: one row of the comparison table."""
    retrieval = report.get("retrieval") or {}
    return {
        "accuracy": report["accuracy"],
        "log_loss": report["log_loss"],
        "macro_precision": report["macro_precision"],
        "macro_recall": report["macro_recall"],
        "macro_f1": report["macro_f1"],
        "p@5": retrieval.get("p@5"),
        "p@10": retrieval.get(f"p@{RETRIEVAL_K}"),
    }
