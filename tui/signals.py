"""The signals that end a face (Ctrl-C, `kill`, a closed terminal), for the app and headless alike.

SIGINT, SIGTERM and SIGHUP all mean "stop and save": the engine is cancelled, which saves the
session (a submit on the wire still gets its answer, so nothing is left in doubt that was not),
and the face exits with 128 + the signal's number, as a shell reports a process killed by it:
130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP. A second signal exits at once (the journal
already holds every request id).

SIGHUP usually means the terminal has gone (an SSH drop, a closed window). A hung-up terminal
fails every write with EIO, which would kill Textual's output thread and leave the app blocked
on a full queue, and every print with a traceback. So when the terminal is gone, the standard
streams are pointed at /dev/null first: the save goes on, with nobody left to tell.
"""

from __future__ import annotations

import errno
import os
import signal
import termios

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# What a face that stops for one of them leaves behind, in the words it says so with.
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP (the terminal closed)"}


def exit_code(signum: int) -> int:
    """The exit code of a face stopped by `signum`: 128 + its number (130, 143, 129)."""
    return 128 + int(signum)


def name(signum: int) -> str:
    return NAMES.get(signum, signal.Signals(signum).name)


def terminal_gone(fd: int) -> bool:
    """True when `fd` is a terminal that has hung up (its other end closed): asking a hung-up
    tty for its modes fails with EIO, where a live one answers and a pipe or a file says ENOTTY."""
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return exc.args[0] == errno.EIO
    return False


def leave_dead_terminal() -> bool:
    """Point each of stdin, stdout and stderr that is a hung-up terminal at /dev/null (reads see
    end of file, writes succeed into nothing; a stream redirected to a file or pipe is kept);
    returns whether any was."""
    dead = [fd for fd in (0, 1, 2) if terminal_gone(fd)]
    if not dead:
        return False
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in dead:
            os.dup2(null, fd)
    finally:
        if null > 2:
            os.close(null)
    return True


# Leave the alternate screen, show the cursor, stop mouse reporting (every mode Textual may have
# turned on), bracketed paste and focus events, and the kitty keyboard protocol.
RESET_MODES = ("\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1015l\x1b[?1006l"
               "\x1b[?2004l\x1b[?1004l\x1b[?7h")


def restore_terminal_now(attrs: list | None) -> None:
    """For an exit that cannot wait for Textual's own teardown (a second signal): put the
    terminal back as it was, best effort (it may have gone)."""
    try:
        if attrs is not None:
            termios.tcsetattr(0, termios.TCSANOW, attrs)
        os.write(2, RESET_MODES.encode())
    except (OSError, termios.error):
        pass


def guard_job_control() -> None:
    """Make Textual's SIGCONT handler safe. It re-enters the app's terminal mode on every
    SIGCONT, but a closed terminal sends SIGHUP *and* SIGCONT, and re-entering then starts a
    second output thread on a dead terminal (the app then hangs on exit). So: a SIGCONT that
    finds the terminal gone leaves it (see `leave_dead_terminal`) and goes no further, and one
    that does not follow a suspend (ctrl+z, SIGTSTP) leaves the screen as it is. Call once the
    app's driver has put its handlers in place; does nothing where it has none."""
    on_stop, on_cont = signal.getsignal(signal.SIGTSTP), signal.getsignal(signal.SIGCONT)
    if not callable(on_stop) or not callable(on_cont):
        return
    suspended = [False]

    def stop(signum, frame) -> None:
        suspended[0] = True
        on_stop(signum, frame)   # Textual leaves its mode, then stops the process until `fg`

    def cont(signum, frame) -> None:
        was, suspended[0] = suspended[0], False
        if leave_dead_terminal():
            return
        if was:
            on_cont(signum, frame)

    signal.signal(signal.SIGTSTP, stop)
    signal.signal(signal.SIGCONT, cont)
