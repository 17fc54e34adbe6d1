"""A store that fails answers 4xx, never 250, and the server keeps serving (issue: 451 4.3.0 / 452 4.3.1)."""

import shutil

from conftest import make_message


def test_unwritable_mailbox_gives_451_and_server_keeps_serving(server):
    # A regular file where alice's Maildir should be: creating tmp/ under it fails with ENOTDIR, as root too.
    box = server.mailbox_dir("alice")
    shutil.rmtree(box, ignore_errors=True)
    box.parent.mkdir(parents=True, exist_ok=True)
    box.write_bytes(b"not a directory")

    with server.connect() as c:
        c.start()
        assert c.cmd("MAIL FROM:<s@other.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        reply = c.cmd("DATA")
        if reply.code == 354:  # the store may fail when the body starts or when it is committed
            c.send(make_message(subject="lost?") + b".\r\n")
            reply = c.read_reply()
        assert reply.code in (451, 452), reply
        assert reply.enhanced in ("4.3.0", "4.3.1"), reply
        # The same session goes on: bob's mailbox works.
        c.transaction("s@other.test", ["bob@example.test"], make_message(subject="still fine"))

    assert box.read_bytes() == b"not a directory"
    server.wait_delivered("bob", 1)
    server.assert_no_tmp()
    server.assert_healthy()

    # When the problem is fixed, delivery to alice works again without a restart.
    box.unlink()
    with server.smtp() as smtp:
        smtp.sendmail("s@other.test", ["alice@example.test"], make_message(subject="back"))
    server.wait_delivered("alice", 1)
