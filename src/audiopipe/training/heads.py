"""Downstream heads for the Spectral Transcoder evaluation (Tailleur et al., DCASE 2023, Sec. 4).

The paper scores a classifier fed true vs transcoded log-Mel by training a head on its frozen
embeddings: accuracy with UrbanSound8K's official 10-fold cross-validation (Salamon et al.
2014) and macro-AUPRC on SONYC-UST's train/validate/test split (Cartwright et al. 2019). The
head here is an L2-regularised logistic regression (scikit-learn, deterministic lbfgs) on
standardised embeddings: multinomial for single-label data, one-vs-rest for multi-label data.
A class with a single label value in the training data gets a constant score (its training
prevalence), since no boundary can be fitted for it.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def fit_predict_head(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, multilabel: bool,
                     c: float = 1.0, max_iter: int = 500) -> np.ndarray:
    """Fit a logistic-regression head and score the test embeddings.

    Parameters
    ----------
    train_x, test_x : np.ndarray
        Embeddings ``(clips, dims)``.
    train_y : np.ndarray
        Integer labels ``(clips,)`` (``multilabel=False``) or 0/1 targets ``(clips, classes)``.
    multilabel : bool
        One-vs-rest binary heads (returns probabilities per class) or one multinomial head.
    c : float
        Inverse L2 strength (scikit-learn ``C``).

    Returns
    -------
    np.ndarray
        ``(test clips, classes)`` scores. Single-label: class probabilities over
        ``range(train_y.max() + 1)`` (classes absent from training get 0).

    Raises
    ------
    ValueError
        If there is no training clip or the shapes disagree.
    """
    train_x, test_x, train_y = np.asarray(train_x, float), np.asarray(test_x, float), np.asarray(train_y)
    if len(train_x) == 0:
        raise ValueError("no training clip for the head")
    if len(train_y) != len(train_x):
        raise ValueError(f"{len(train_x)} training embeddings but {len(train_y)} labels")
    scaler = StandardScaler().fit(train_x)
    a, b = scaler.transform(train_x), scaler.transform(test_x)
    if multilabel:
        out = np.zeros((len(b), train_y.shape[1]))
        for k in range(train_y.shape[1]):
            yk = train_y[:, k].astype(int)
            if len(np.unique(yk)) < 2:
                out[:, k] = yk.mean()
            else:
                out[:, k] = LogisticRegression(C=c, max_iter=max_iter).fit(a, yk).predict_proba(b)[:, 1]
        return out
    train_y = train_y.astype(int)
    out = np.zeros((len(b), int(train_y.max()) + 1))
    present = np.unique(train_y)
    if len(present) < 2:
        out[:, present[0]] = 1.0
        return out
    clf = LogisticRegression(C=c, max_iter=max_iter).fit(a, train_y)
    out[:, clf.classes_] = clf.predict_proba(b)
    return out
