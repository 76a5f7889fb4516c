/**
 * ECharts, imported module by module (echarts/core) so only chart pages pay for it:
 * this file is reached only through lazily loaded chart components.
 */
import { BarChart, CustomChart } from 'echarts/charts';
import { GridComponent, MarkLineComponent, TooltipComponent } from 'echarts/components';
import { use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, CustomChart, GridComponent, TooltipComponent, MarkLineComponent, CanvasRenderer]);
