"""Layer 9: the autonomous lifecycle (data -> train -> validate -> trade -> diagnose -> heal).

Stages land issue by issue; :func:`autoperp.autopilot.demo.run_demo` runs every stage that exists.
"""
