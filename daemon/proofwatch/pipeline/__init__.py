"""One photo from file to verdict, for the daemon and the one-off commands alike.

`process`: the Pipeline (strip, request, rules, engines, verdict) and the Setup it judges with;
`plan`: which engine answers which rule; `in_place`: a photo stripped where it lies;
`work`: the unit of work the daemon and `backfill` share. Import the module you need: a
one-off `proofwatch strip` must not pay for the engines.
"""
