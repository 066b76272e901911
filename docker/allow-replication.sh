#!/bin/sh
# Run once by the postgis image when it creates the cluster: the replica container may
# stream the WAL with the same password as any client.
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
