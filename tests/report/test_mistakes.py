import numpy as np

from kclass.report import mistakes


def test_confident_mistakes_are_wrong_and_most_confident_first():
    labels = np.array([0, 1, 2, 0, 1, 2])
    pred = np.array([0, 2, 2, 1, 0, 0])
    confidence = np.array([0.99, 0.6, 0.9, 0.8, 0.8, 0.7])
    assert mistakes.confident_mistakes(labels, pred, confidence).tolist() == [3, 4, 5, 1]  # ties: lower index
    assert mistakes.confident_mistakes(labels, pred, confidence, count=2).tolist() == [3, 4]
    assert mistakes.confident_mistakes(labels, labels, confidence).tolist() == []
