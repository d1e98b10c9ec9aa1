# Voila configuration of the classroom demo: `make demo` starts
#   voila apps/explorer.ipynb --Voila.config_file_paths=apps/server ...
# and Voila reads this file (it looks for voila.py / voila.json in those folders).
# Without make:  JUPYTER_TOKEN=<token> voila apps/explorer.ipynb --Voila.config_file_paths=apps/server
# Any setting below can be overridden on the command line (it wins over this file), e.g.
#   make demo DEMO_ARGS="--ClassroomKernelManager.max_kernels=40 --MappingKernelManager.cull_idle_timeout=300"
# What each setting costs and why it is set so: docs/classroom-demo.md.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import classroom_server  # noqa: E402  (needs the path above)

c = get_config()  # noqa: F821  (provided by traitlets when it runs this file)

# -- the token: from the environment, never from the command line ----------------------
# /proc/PID/cmdline is readable by every local user; /proc/PID/environ only by the owner.
# pop(): Voila copies its environment into every kernel's, and kernels need no token.
_token = os.environ.pop("JUPYTER_TOKEN", "")
if _token:
    c.Voila.token = _token
else:  # never serve without a token: Voila makes one up and prints the URL with it
    c.Voila.auto_token = True

# -- no message freezes the server ------------------------------------------------------
# v1 websocket protocol only, and every frame checked before it is decoded.
c.Voila.kernel_websocket_connection_class = classroom_server.V1OnlyConnection

# -- kernels are capped and freed -------------------------------------------------------
c.VoilaConfiguration.multi_kernel_manager_class = classroom_server.ClassroomKernelManager
# At most this many visits at once (each kernel holds about 0.4 GB, docs/classroom-demo.md).
c.ClassroomKernelManager.max_kernels = 20
# A kernel with no message for cull_idle_timeout s is shut down at the next check (every
# cull_interval s), whether or not a page is still connected to it (cull_connected): a
# kernel opened by a plain GET or by a page that closed without saying so is freed within
# cull_idle_timeout + cull_interval = 50 s. A page that closes normally frees its kernel
# at once (Voila's page sends a shutdown on unload). A page left idle that long loses its
# kernel; reloading it starts a fresh one.
c.MappingKernelManager.cull_idle_timeout = 40
c.MappingKernelManager.cull_interval = 10
c.MappingKernelManager.cull_connected = True
# A kernel that is busy (running a cell) is not culled: the app's cells only build the
# explorers, and the explorers train between messages, not in a cell.
c.MappingKernelManager.cull_busy = False
# No pool of pre-started kernels: each pooled kernel would hold its memory with no visitor.
c.VoilaConfiguration.preheat_kernel = False
# Visitors see messages, never server paths: no tracebacks in the page.
c.VoilaConfiguration.show_tracebacks = False
