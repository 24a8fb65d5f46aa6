-- Sessions per viewer country, with QoE averages.
SELECT c_country,
       COUNT(DISTINCT cmcd_sid) AS sessions,
       AVG(avg_bitrate_kbps) AS avg_bitrate_kbps,
       SUM(rebuffer_count) AS rebuffers,
       AVG(startup_ms) AS avg_startup_ms
FROM sessions
GROUP BY c_country
ORDER BY sessions DESC, c_country
