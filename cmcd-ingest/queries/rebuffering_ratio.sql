-- Rebuffering per hour (definitions: cmcd.md 5.1-5.2, and the sessions table comments).
-- rebuffered_share: sessions with at least one rebuffer / sessions.
-- rebuffering_ratio: stall time / (stall time + content played), from v2 bsd; 0 without v2 data.
SELECT dt, hour,
       COUNT(*) AS sessions,
       SUM(CASE WHEN rebuffer_count > 0 THEN 1 ELSE 0 END) AS rebuffered_sessions,
       CAST(SUM(CASE WHEN rebuffer_count > 0 THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS rebuffered_share,
       CAST(SUM(COALESCE(stall_ms, 0)) AS DOUBLE) / NULLIF(SUM(COALESCE(stall_ms, 0) + played_ms), 0) AS rebuffering_ratio
FROM sessions
GROUP BY dt, hour
ORDER BY dt, hour
