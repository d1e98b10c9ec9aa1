"""Server-side guards of the classroom demo (``make demo``), loaded by ``apps/server/voila.py``.

Two classes plug into Voila 0.5 / jupyter_server 2 through their configuration:

* :class:`V1OnlyConnection` (``Voila.kernel_websocket_connection_class``) speaks only the
  v1 kernel websocket protocol and checks every frame before jupyter_server decodes it.
  This closes two ways in which one message froze the whole server (both upstream, in
  the newest releases as of this writing: Voila 0.5.13, jupyter_server 2.21.1; reproducer
  in ``docs/upstream-websocket-bugs.md``):

  1. On a connection without the v1 subprotocol ("legacy" framing), Voila's websocket
     handler reads the header of every binary reply (a widget update with buffers, a
     ``request_states`` answer) as if it were v1-framed, takes 8 bytes of it as a count
     and builds a list of about 1e17 offsets. Legacy connections are refused here at the
     handshake, so every reply goes out v1-framed, the framing Voila reads correctly.
  2. jupyter_server's v1 decoder trusts the count in a frame's first 8 bytes, so 8 bytes
     claiming 2**62 offsets loop the same way. Frames are checked here against their own
     length first (:func:`v1_frame_problem`), and a bad one closes the connection.

* :class:`ClassroomKernelManager` (``VoilaConfiguration.multi_kernel_manager_class``)
  caps the number of kernels alive at once (``max_kernels``): a visit past the cap gets
  Voila's error page saying the demo is full, with status 503, and starts no kernel.

Nothing here imports sgexplore: this is the server's process, not the kernels'.
"""

from __future__ import annotations

from typing import Optional

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer, default

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
#: Parts of one v1 message: channel, then header, parent header, metadata, content, buffers.
MIN_OFFSETS = 6
#: Far above what a widget message carries (a few buffers); it bounds the work per frame.
MAX_OFFSETS = 1024


def v1_frame_problem(frame: object) -> Optional[str]:
    """Why ``frame`` is not a well-formed v1 kernel websocket message, or None if it is.

    A v1 frame is: the number n of offsets (8 bytes, little-endian), n offsets (8 bytes
    each), then the channel name and the message parts; offset i is where part i starts
    and the last offset is where the frame ends. The count is checked against the
    frame's length before a single offset is read, so a lying count costs nothing.
    """
    if not isinstance(frame, bytes):
        return "a text frame (the v1 protocol sends binary frames only)"
    size = len(frame)
    if size < 8:
        return f"a {size}-byte frame (shorter than the 8-byte offset count)"
    count = int.from_bytes(frame[:8], "little")
    if not MIN_OFFSETS <= count <= MAX_OFFSETS:
        return f"an offset count of {count} (valid: {MIN_OFFSETS} to {MAX_OFFSETS})"
    table_end = 8 * (count + 1)
    if table_end > size:
        return f"{count} offsets claimed, but a {size}-byte frame has room for {size // 8 - 1}"
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != table_end or offsets[-1] != size or any(
            a > b for a, b in zip(offsets, offsets[1:])):
        return "offsets that do not run in order from the end of the offset table to the frame's end"
    try:
        frame[offsets[0]:offsets[1]].decode("ascii")
    except UnicodeDecodeError:
        return "a channel name that is not ASCII"
    return None


def _offered_subprotocols(handler) -> list:
    header = handler.request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


class V1OnlyConnection(ZMQChannelsWebsocketConnection):
    """A kernel websocket connection that accepts only the v1 protocol and well-formed frames."""

    @default("kernel_ws_protocol")
    def _default_kernel_ws_protocol(self):  # select v1 whenever offered (prepare() requires it)
        return V1_PROTOCOL

    async def prepare(self):
        """Refuse the handshake (HTTP 400) unless the client offers the v1 subprotocol."""
        if V1_PROTOCOL not in _offered_subprotocols(self.websocket_handler):
            self.log.warning("Refused a kernel websocket without the %s subprotocol", V1_PROTOCOL)
            raise web.HTTPError(400, f"this server speaks only the {V1_PROTOCOL} kernel websocket "
                                     "protocol; offer it as a subprotocol")
        await super().prepare()

    def handle_incoming_message(self, incoming_msg) -> None:
        """Pass a well-formed v1 frame on to the kernel; close the connection on any other."""
        problem = (f"the connection is not v1 ({self.subprotocol!r})"
                   if self.subprotocol != V1_PROTOCOL else v1_frame_problem(incoming_msg))
        if problem is not None:
            self.log.warning("Closing kernel websocket %s: malformed message, %s", self.kernel_id, problem)
            self.websocket_handler.close(1007, "malformed kernel message")
            return
        super().handle_incoming_message(incoming_msg)


class ClassroomKernelManager(AsyncMappingKernelManager):
    """Voila's kernel manager with a cap on the kernels alive at once.

    Idle kernels are freed by the culler this class inherits (``cull_idle_timeout``,
    ``cull_interval``, ``cull_connected``; the values are set in ``apps/server/voila.py``).
    """

    max_kernels = Integer(20, config=True,
                          help="Most kernels alive at once (one per open visit); a visit past "
                               "it gets a 'demo is full' page (HTTP 503) and starts no kernel.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._starting = 0  # kernels being started: not in list_kernel_ids() yet

    async def start_kernel(self, *, kernel_id=None, path=None, **kwargs):
        """Start a kernel, or raise HTTP 503 with a message if ``max_kernels`` are alive."""
        if kernel_id is not None:  # reconnecting to an existing kernel starts nothing
            return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        alive = len(self.list_kernel_ids()) + self._starting
        if alive >= self.max_kernels:
            self.log.warning("Refused a visit: %d of %d kernels in use", alive, self.max_kernels)
            raise web.HTTPError(503, reason=(
                f"The demo is full ({self.max_kernels} visitors). Please try again in a minute: "
                "the kernel of a closed or idle page is freed within a minute."))
        self._starting += 1
        try:
            return await super().start_kernel(path=path, **kwargs)
        finally:
            self._starting -= 1
