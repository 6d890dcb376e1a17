-- Revenue and orders per region, best first, from the warehouse the load step filled.
select region,
       round(sum(revenue), 2) as revenue,
       count(*) as orders,
       round(sum(revenue) / count(*), 2) as revenue_per_order
from sales
where units >= :min_units
group by region
order by revenue desc;
