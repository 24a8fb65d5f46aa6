-- Sessions per edge (first three letters of x_edge_location, the airport code; cmcd.md 5.1).
SELECT edge,
       COUNT(*) AS session_hours,
       COUNT(DISTINCT cmcd_sid) AS sessions,
       SUM(bytes) AS bytes,
       AVG(cache_hit_ratio) AS cache_hit_ratio,
       SUM(rebuffer_count) AS rebuffers
FROM (SELECT SUBSTR(edge_location, 1, 3) AS edge, cmcd_sid, bytes, cache_hit_ratio, rebuffer_count
      FROM sessions) AS s
GROUP BY edge
ORDER BY sessions DESC, edge
