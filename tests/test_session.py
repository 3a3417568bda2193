"""The window's editing session (no Qt): which requests are still wanted, which results are kept."""

from pathlib import Path

import numpy as np

from app.session import EditingSession, Failure, PhotoPrepared, PhotoRestored


def _prepared(request_id):
    return PhotoPrepared(request_id, Path("a.jpg"), np.zeros((4, 4, 3), np.uint8), [], None, [])


def _restored(request_id, quality=0.5):
    return PhotoRestored(request_id, quality, 0.5, np.zeros((4, 4, 3), np.uint8), None, 0, 0.0)


def test_opening_a_photo_makes_every_older_request_stale():
    session = EditingSession()
    first = session.begin_open()
    assert session.begin_settings() is None  # nothing prepared yet: no settings request
    assert session.accept_prepared(_prepared(first))
    settings = session.begin_settings()
    second = session.begin_open()
    assert not session.open_wanted(first) and not session.settings_wanted(settings)
    assert session.open_wanted(second)
    assert session.stop_check(first)() and not session.stop_check(second)()
    assert not session.accept_prepared(_prepared(first)) and session.prepared is None
    assert not session.accept_restored(_restored(settings))  # about the photo the user left
    assert session.classify_failure(first) is Failure.STALE
    assert session.classify_failure(second) is Failure.OPEN


def test_only_the_newest_settings_request_is_wanted_and_results_never_go_back():
    session = EditingSession()
    opened = session.begin_open()
    session.accept_prepared(_prepared(opened))
    older, newer = session.begin_settings(), session.begin_settings()
    assert not session.settings_wanted(older) and session.settings_wanted(newer)
    assert session.stop_check(older)() and not session.stop_check(newer)()
    assert session.accept_restored(_restored(newer, 0.9))
    assert not session.accept_restored(_restored(older, 0.1))  # a late older result does not replace it
    assert session.restored.quality == 0.9
    assert session.classify_failure(newer) is Failure.RESTORE and session.classify_failure(0) is Failure.MODEL


def test_closing_makes_every_request_stale():
    session = EditingSession()
    opened = session.begin_open()
    session.close()
    assert session.closing and not session.open_wanted(opened) and session.stop_check(opened)()
