"""``plancycle demo``: a whole planning cycle on a simulated clock, driving the real flows (``flows.actions``,
``flows.schedules``) from the cycle's first day to its last. ``script`` holds the givens and the module's story
(what the simulated people do, derived from the cycle file), ``decisions`` what they decide, ``moves`` each move
as one flow run, ``driver`` the clock and what the run leaves behind, ``users`` the console's demo accounts.
The CLI's ``demo`` command (``app.cli.demo``) runs it and prints its summary.
"""

from flows.demo.driver import Demo, InProcessDemo, run_demo
from flows.demo.script import END
from flows.demo.users import DEMO_PASSWORD, create_demo_users

__all__ = ["DEMO_PASSWORD", "END", "Demo", "InProcessDemo", "create_demo_users", "run_demo"]
