"""One photo from file to verdict, for the daemon and the one-off commands alike.

`process`: the Pipeline (strip, request, rules, engines, verdict); `setup`: what a photo is
judged with (Settings, Setup, Options); `waits`: why a photo is set aside instead (Postponed);
`ask`: which rules run and asking the engines; `plan`: which engine answers which rule;
`in_place`: a photo stripped where it lies; `held`, `faults`: a photo kept hidden while the
machine is at fault; `history`: the state rebuilt from the verdicts; `work`: the unit of
work the daemon and `backfill` share. Import the module you need: a one-off
`proofwatch strip` must not pay for the engines.
"""
