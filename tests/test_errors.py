"""One Qt-free failure message for every exception (GUI, batch and CLI use it)."""

import errno

from app.errors import ImageLoadError, failure_message


def test_os_errors_are_said_in_plain_words_with_the_file():
    full = OSError(errno.ENOSPC, "No space left on device", "/photos/out/a.png")
    assert failure_message(full, "save 'a.png'") == "Could not save 'a.png': the disk is full ('/photos/out/a.png')."
    denied = PermissionError(errno.EACCES, "Permission denied")
    assert failure_message(denied, "open 'b.jpg'") == "Could not open 'b.jpg': permission denied."
    odd = OSError(errno.ETXTBSY, "Text file busy", b"/photos/\xff.png")
    assert failure_message(odd, "finish") == "Could not finish: Text file busy ('/photos/\\xff.png')."


def test_studio_errors_keep_their_sentence_and_gain_the_photo_name():
    error = ImageLoadError("The file is truncated.")
    assert failure_message(error, "open 'c.jpg'") == "The file is truncated."
    assert failure_message(error, "open 'c.jpg'", name="c.jpg") == "c.jpg: The file is truncated."
    assert failure_message(ImageLoadError("'c.jpg' is truncated."), "open", name="c.jpg") == "'c.jpg' is truncated."


def test_memory_and_unexpected_errors_give_one_line_without_control_characters():
    assert failure_message(MemoryError(), "restore") == (
        "Not enough memory to restore; close other programs or try a smaller photo."
    )
    unexpected = IndexError("list index \x1b[31mout of range\nsecond line")
    assert failure_message(unexpected, "open 'd.png'") == (
        "Could not open 'd.png': unexpected error (IndexError: list index \\x1b[31mout of range)."
    )
