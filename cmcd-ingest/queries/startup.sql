-- Startup time percentiles per source (v2 msd, or the v1 su proxy; cmcd.md 5.2).
SELECT startup_source,
       COUNT(*) AS sessions,
       approx_percentile(startup_ms, 0.5) AS startup_p50_ms,
       approx_percentile(startup_ms, 0.95) AS startup_p95_ms
FROM sessions
WHERE startup_ms IS NOT NULL
GROUP BY startup_source
ORDER BY startup_source
