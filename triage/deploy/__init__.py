"""What a deployment is made of: regional bundles, the regions file and the fleet's supervisor.

The fleet that starts processes of both tiers lives in ``commands.fleet``; this package imports neither tier.
"""
